"""The shipped migrations, applied to an empty database, give exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from grader.serve.database import migrate, open_engine, pending_migrations
from grader.serve.models import Base


def test_migrations_give_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert pending_migrations(engine) == []


def test_an_empty_database_lacks_every_migration_and_gets_them_once(database_url: str) -> None:
    engine = open_engine(database_url)
    try:
        assert pending_migrations(engine) != []
        applied = migrate(engine)
        assert applied
        assert migrate(engine) == []  # again: nothing to do, nothing lost
        assert {"jobs", "results", "submissions", "students"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_and_syncs_every_commit(tmp_path: object) -> None:
    from pathlib import Path

    engine = open_engine(f"sqlite:///{Path(str(tmp_path)) / 'g.db'}")
    migrate(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # 2 is FULL: a commit whose reply said "taken" survives a power cut too.
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    engine.dispose()


def test_the_course_rules_migration_goes_down_to_the_first_schema_and_up_again(
    engine: Engine,
) -> None:
    from alembic import command

    from grader.serve.database import _alembic_config

    config = _alembic_config(engine)
    command.downgrade(config, "0001")
    tables = set(inspect(engine).get_table_names())
    assert "extensions" not in tables and "audit" not in tables
    assert "refusal" not in {c["name"] for c in inspect(engine).get_columns("submissions")}
    pending = pending_migrations(engine)  # newest first: the rules' and every later one
    assert pending[-1] == "0002" and "0001" not in pending
    assert migrate(engine) == pending
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
