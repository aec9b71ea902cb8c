"""the wrong sign-in attempts, by address, that every web process counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_attempts")),
    )
    with op.batch_alter_table("signin_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_signin_attempts_address_at", ["address", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_signin_attempts_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_attempts_at"))
        batch_op.drop_index("ix_signin_attempts_address_at")

    op.drop_table("signin_attempts")
