"""Statements of the hand-in path, compiled once and run on SQLite's own cursor.

A hand-in runs four statements (its token and its idempotency key looked up,
the submission and its job inserted) in the database's writing thread, which
shares the web process's one interpreter lock with the event loop. Through
SQLAlchemy's ``Connection.execute`` each cost about 70 µs of Python around
15 µs of SQLite. Here the statement is compiled by SQLAlchemy once for each
set of parameter names, its values are converted by the column types' own bind
processors (so a date or a JSON payload is stored exactly as SQLAlchemy stores
it), and the SQL goes to the DBAPI connection of the session's transaction.
Errors come out as SQLAlchemy's (an ``IntegrityError`` for a key taken twice,
an ``OperationalError`` for a database that cannot be written).

Elsewhere (PostgreSQL) and for a statement whose parameters leave a column to
a Python-side default, the statement runs through SQLAlchemy as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ExecutableReturnsRows

__all__ = ["Prepared"]

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order of the SQL's placeholders
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...] | None  # None: every column comes back as SQLite gives it

    def run(self, sqlite: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = [
            params[name] if bind is None else bind(params[name])
            for name, bind in zip(self.names, self.binds, strict=True)
        ]
        try:
            found: list[tuple[Any, ...]] = sqlite.execute(self.sql, values).fetchall()
        except sqlite3.Error as exc:
            # Hidden, as the engine hides them (open_engine): files and tokens' digests.
            raise DBAPIError.instance(
                self.sql, values, exc, sqlite3.Error, hide_parameters=True
            ) from exc
        if self.results is None:
            return found
        return [
            tuple(v if make is None else make(v) for v, make in zip(row, self.results, strict=True))
            for row in found
        ]


class Prepared:
    """A Core statement that returns rows, run fast on SQLite (see the module's docstring)."""

    def __init__(self, statement: ExecutableReturnsRows) -> None:
        self.statement = statement
        # One compiled form for each set of parameter names (an INSERT's columns).
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it in ``session``'s transaction; return its rows as tuples."""
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            keys = tuple(params)
            try:
                compiled = self._compiled[keys]
            except KeyError:
                compiled = self._compiled[keys] = self._compile(connection.dialect, keys)
            sqlite = connection.connection.dbapi_connection
            if compiled is not None and sqlite is not None:
                return compiled.run(sqlite, params)
        return [tuple(row) for row in connection.execute(self.statement, dict(params))]

    def first(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        found = self.rows(session, params)
        return found[0] if found else None

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        if set(names) - set(keys):  # a column left to a Python-side default: SQLAlchemy's way
            return None
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.statement.exported_columns
        )
        return _Compiled(compiled.string, names, binds, results if any(results) else None)
