"""the course's rules: refused submissions, extensions, overrides, comments, audit, regrades

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _by_student(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("exercise", sa.String(length=255), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f(f"fk_{name}_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(
            f"ix_{name}_student_exercise", ["student_id", "exercise"], unique=False
        )


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refusal", sa.Text(), nullable=True))
    _by_student(
        "extensions",
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("granted_by", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    _by_student(
        "overrides",
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("given_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "check_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("given_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_check_comments_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_comments")),
    )
    with op.batch_alter_table("check_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_comments_submission_id"), ["submission_id"], unique=False
        )
    op.create_table(
        "regrade_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_regrade_messages_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrade_messages")),
    )
    with op.batch_alter_table("regrade_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regrade_messages_submission_id"), ["submission_id"], unique=False
        )
    _by_student(
        "audit",
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(length=255), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.String(length=32), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("why", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_audit_submission_id_submissions"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    for name in ("audit", "overrides", "extensions"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{name}_student_exercise")
    op.drop_table("audit")
    with op.batch_alter_table("regrade_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regrade_messages_submission_id"))
    op.drop_table("regrade_messages")
    with op.batch_alter_table("check_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_comments_submission_id"))
    op.drop_table("check_comments")
    op.drop_table("overrides")
    op.drop_table("extensions")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("refusal")
