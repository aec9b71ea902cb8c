"""Open the server's database (SQLite beside the course, or PostgreSQL) and migrate it.

The same code serves both: SQLite in WAL mode (readers never wait for the
one writer) with a busy timeout, PostgreSQL through psycopg 3. The schema is
Alembic's, shipped in ``grader/serve/migrations`` and applied on start.

On SQLite a transaction takes the write lock at its start (``BEGIN
IMMEDIATE``) unless it comes from ``reading(engine)``: a transaction that
reads first and writes later could otherwise find, at its first write, that
another process wrote since it read, and fail at once instead of waiting.
Work that only reads goes through ``reading`` and never waits for a writer;
``writing`` is the short write transaction of the busy paths (a submission
taken in, a grade recorded), queued on a lock of the process's own before it
asks SQLite's, whose busy handler polls and favours nobody.
"""

from __future__ import annotations

import asyncio
import contextvars
import secrets
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from grader.serve.models import Setting
from grader.serve.turns import WAIT, TakingTurns, turns_file

__all__ = [
    "ServeError",
    "default_url",
    "open_engine",
    "migrate",
    "pending_migrations",
    "setting",
    "ensure_setting",
    "is_sqlite",
    "DatabaseDown",
    "reading",
    "writing",
    "written_together",
    "written_soon",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class ServeError(Exception):
    """A one-line reason why the server (or one of its commands) cannot go on."""


# What a request gets when the database cannot be reached or written: a 503, one line.
DatabaseDown = (DBAPIError, SQLAlchemyError)


def default_url(course_root: Path) -> str:
    """Return the embedded default: ``grade.db`` beside the course's ``course.toml``."""
    return f"sqlite:///{course_root / 'grade.db'}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def open_engine(url: str) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A statement's values stay out of its errors (and so out of any log or traceback):
    # they are students' files and the digests of their tokens.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # Several processes share the file (the web process and every worker).
        kwargs["connect_args"] = {
            "timeout": WAIT,
            "check_same_thread": False,
            "factory": TakingTurns,
        }
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise ServeError(f"cannot use the database {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        turns = turns_file(engine.url.database)

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            connection.open_turns(turns)
            # pysqlite's own implicit BEGIN off: the BEGIN IMMEDIATE below is the only one.
            connection.isolation_level = None
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(WAIT * 1000)}")
            # FULL: a commit is on disk before the reply says the hand-in was taken. WAL
            # with NORMAL survives a crash of the process but can lose the last commits
            # on a power cut, after their replies went out; FULL costs an fsync a commit.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # BEGIN IMMEDIATE: take the write lock at once, so two writers queue on the
            # busy timeout instead of one failing at its first write ("database is locked").
            # A reading transaction begins deferred: it waits for nobody.
            # A writer first waits for its turn among every process's writers (turns.py).
            mode = connection.get_execution_options().get(_BEGIN, "IMMEDIATE")
            if mode == "IMMEDIATE":
                try:
                    connection.connection.dbapi_connection.take_turn()
                except sqlite3.OperationalError as exc:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from None
            connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


_BEGIN = "grade_sqlite_begin"
# One per pool (an engine and its reading view share theirs): the threads of a process
# that write take turns here, in order, rather than in SQLite's busy handler.
_WRITERS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def reading(engine: Engine) -> Engine:
    """Return ``engine`` for transactions that only read (on SQLite: deferred, no write lock)."""
    return engine.execution_options(**{_BEGIN: "DEFERRED"})


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """Open a session in one write transaction, committed at the end (rolled back on error).

    Keep it short: prepare everything first, then write. On SQLite the threads of
    this process take the write lock one after the other.
    """
    if engine.dialect.name != "sqlite":
        with Session(_immediate(engine)) as session, session.begin():
            yield session
        return
    with _writers_lock(engine), Session(_immediate(engine)) as session, session.begin():
        yield session


def _immediate(engine: Engine) -> Engine:
    """Return ``engine`` for a write transaction (on SQLite: the write lock from its start)."""
    return engine.execution_options(**{_BEGIN: "IMMEDIATE"})


def _writers_lock(engine: Engine) -> threading.Lock:
    """Return the lock this process's writers to ``engine`` take in turn."""
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(engine.pool, threading.Lock())


T = TypeVar("T")


@dataclass
class _Write:
    """One caller's part of a shared write transaction: its work, then its outcome."""

    work: Callable[[Session], Any]
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    # An awaiting caller's (written_soon): the future its event loop wakes it with.
    woken: asyncio.Future[None] | None = None


# Writes waiting for the next shared transaction, per pool (as the writers' locks).
_WAITING: weakref.WeakKeyDictionary[Any, deque[_Write]] = weakref.WeakKeyDictionary()
# The most one shared transaction takes: a bound on how long its last caller waits.
MOST_TOGETHER = 64
# The writing thread of each pool that the event loop hands writes to (written_soon).
_SCRIBES: weakref.WeakKeyDictionary[Any, _Scribe] = weakref.WeakKeyDictionary()


def written_together(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a write transaction, committed before this returns; return its result.

    On SQLite every write of a process waits for one lock and each commit waits for
    its fsync (``synchronous=FULL``), so writes that arrive together (a deadline's
    hand-ins) share one transaction and one fsync: whichever caller takes the lock
    runs the work of every caller waiting then, each in a savepoint of its own, and
    commits once. A caller's error (its savepoint rolled back) is raised to that
    caller alone; a failed commit to all of them, none of whose work was kept.
    ``work`` writes with Core statements (``session.connection().execute``): a
    write through the session (``session.add``) is refused with TypeError, since a
    failed flush would end the transaction the others share. Elsewhere
    (PostgreSQL) each call is its own transaction, as ``writing``.
    """
    if engine.dialect.name != "sqlite":
        with writing(engine) as session:
            return work(session)
    mine = _Write(work)
    lock = _writers_lock(engine)
    with _WRITERS_LOCK:
        waiting = _WAITING.setdefault(engine.pool, deque())
        waiting.append(mine)
    with lock:
        if not mine.done:  # no earlier transaction took it: this one takes it and the rest
            with _WRITERS_LOCK:
                taken = [waiting.popleft() for _ in range(min(len(waiting), MOST_TOGETHER))]
            _write_together(engine, taken)
    if mine.error is not None:
        raise mine.error
    return cast(T, mine.result)


def _write_together(engine: Engine, taken: list[_Write]) -> None:
    try:
        with Session(_immediate(engine), autoflush=False) as session, session.begin():
            # SQLite's savepoints, said to it directly: SQLAlchemy's bookkeeping of them
            # (the session's or the connection's) cost a sixth of a hand-in. So the work
            # writes with Core statements, as the session cannot know what a rollback
            # to a savepoint undid (and a failed flush would end the shared transaction).
            event.listen(session, "before_flush", _core_only)
            sqlite = session.connection().connection.dbapi_connection
            assert sqlite is not None
            for write in taken:
                sqlite.execute("SAVEPOINT grade_write")
                try:
                    write.result = write.work(session)
                except Exception as exc:  # this caller's alone: its savepoint is undone
                    write.error = exc
                    sqlite.execute("ROLLBACK TO grade_write")
                sqlite.execute("RELEASE grade_write")
    except Exception as exc:  # the commit (or the BEGIN): nothing of anyone's was kept
        for write in taken:
            write.result, write.error = None, exc
    loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for write in taken:
        write.done = True
        if write.woken is not None:
            loops.setdefault(write.woken.get_loop(), []).append(write.woken)
    for loop, futures in loops.items():  # one wake-up a loop, not one a hand-in
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(_wake, futures)


def _core_only(session: Session, *_: Any) -> None:
    session.expunge_all()
    raise TypeError("a shared write's work writes with Core statements, not session.add")


def _wake(futures: list[asyncio.Future[None]]) -> None:
    for woken in futures:
        if not woken.done():  # the request was given up meanwhile (its client went away)
            woken.set_result(None)


async def written_soon(engine: Engine, work: Callable[[Session], T]) -> T:
    """Await ``written_together(engine, work)`` without holding a thread while it waits.

    A request on the event loop hands its write to the pool's writing thread
    (``_Scribe``), which takes every write waiting then (the threads' and the
    loop's) into one transaction, as ``written_together`` does. Fifty hand-ins
    at once then cost one thread and one fsync, not fifty threads taking turns
    for one lock. Elsewhere (PostgreSQL) the write runs on a worker thread, in
    a transaction of its own.
    """
    if engine.dialect.name != "sqlite":
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(written_together, engine, work)
    woken = asyncio.get_running_loop().create_future()
    # The work runs in the caller's context (its clock, say), as on a worker thread.
    context = contextvars.copy_context()
    mine = _Write(lambda session: context.run(work, session), woken=woken)
    with _WRITERS_LOCK:
        _WAITING.setdefault(engine.pool, deque()).append(mine)
        scribe = _SCRIBES.get(engine.pool)
        if scribe is None or not scribe.is_alive():
            scribe = _SCRIBES[engine.pool] = _Scribe(engine)
            scribe.start()
    scribe.wake()
    await woken
    if mine.error is not None:
        raise mine.error
    return cast(T, mine.result)


class _Scribe(threading.Thread):
    """The thread that writes what the event loop hands in, in shared transactions.

    It ends when nothing came for a while (the next write starts another), so an
    engine no longer used is not kept alive by it.
    """

    IDLE = 10.0  # seconds without a write before it ends

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="grade-serve-scribe", daemon=True)
        self.engine = engine
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def run(self) -> None:
        pool = self.engine.pool
        lock = _writers_lock(self.engine)
        while True:
            if not self._woken.wait(self.IDLE):
                with _WRITERS_LOCK:
                    if not _WAITING.get(pool):  # truly idle: end (a new write starts another)
                        _SCRIBES.pop(pool, None)
                        return
            self._woken.clear()
            with lock:
                with _WRITERS_LOCK:
                    waiting = _WAITING.get(pool) or deque()
                    taken = [waiting.popleft() for _ in range(min(len(waiting), MOST_TOGETHER))]
                    more = bool(waiting)
                if taken:
                    _write_together(self.engine, taken)
            if more:
                self._woken.set()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def pending_migrations(engine: Engine) -> list[str]:
    """Return the revisions the database still lacks (all of them for an empty one)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(engine))
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except DatabaseDown as exc:
        raise ServeError(f"cannot reach the database: {_reason(exc)}") from None
    wanted = []
    for revision in script.walk_revisions():
        if revision.revision in current:
            break
        wanted.append(revision.revision)
    return wanted


def migrate(engine: Engine) -> list[str]:
    """Upgrade the database to the newest schema; return the revisions applied."""
    from alembic import command

    todo = pending_migrations(engine)
    if todo:
        try:
            command.upgrade(_alembic_config(engine), "head")
        except DatabaseDown as exc:
            raise ServeError(f"cannot migrate the database: {_reason(exc)}") from None
    with Session(engine) as session, session.begin():
        # The secret that signs cookies, shared by every process of the server.
        ensure_setting(session, "secret", lambda: secrets.token_urlsafe(32))
        # One seed for the course's whole life: every attempt meets the same inputs, and
        # a regrade is comparable with the grade before it.
        ensure_setting(session, "seed", lambda: secrets.SystemRandom().randrange(1, 10**6))
    return todo


def setting(session: Session, key: str) -> str | None:
    """Return a server-wide setting, or None."""
    return session.scalar(select(Setting.value).where(Setting.key == key))


def ensure_setting(session: Session, key: str, make: Any) -> str:
    """Return the setting ``key``, storing ``make()`` first when it has none."""
    value = setting(session, key)
    if value is None:
        value = str(make())
        session.add(Setting(key=key, value=value))
        session.flush()
    return value


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
