"""Writers to one SQLite file take turns on an OS lock: the next goes on as soon as one ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from grader.serve import turns
from grader.serve.database import migrate, open_engine, writing

HOLDER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from grader.serve.database import open_engine, writing
    with writing(open_engine(sys.argv[1])) as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('held', 'yes')"))
        print("holding", flush=True)
        time.sleep(600)
    """
)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'grade.db'}"
    engine = open_engine(url)
    migrate(engine)
    engine.dispose()
    yield url


def _write(engine: Engine, key: str) -> None:
    with writing(engine) as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES (:k, 'x')"), {"k": key})


def _settings(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT key FROM settings")))


def test_a_writer_killed_mid_transaction_hands_its_turn_on_at_once(url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        engine = open_engine(url)
        wrote = threading.Event()

        def write_after() -> None:
            _write(engine, "after")
            wrote.set()

        writer = threading.Thread(target=write_after)
        writer.start()
        assert not wrote.wait(0.5)  # the other process's turn: this one waits
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert wrote.wait(10)
        assert time.monotonic() - killed < 2  # the kernel freed its turn with the process
        writer.join()
        assert _settings(engine) >= {"after"} and "held" not in _settings(engine)
        engine.dispose()
    finally:
        holder.kill()
        holder.wait()


def test_a_turn_ends_with_its_commit_or_its_rollback(url: str) -> None:
    first, second = open_engine(url), open_engine(url)  # two pools: two lock files opened
    _write(first, "one")
    _write(second, "two")  # not kept waiting by first's committed transaction
    with pytest.raises(RuntimeError), writing(first):
        raise RuntimeError("undone")
    _write(second, "three")  # nor by its rolled-back one
    assert _settings(first) >= {"one", "two", "three"}
    first.dispose()
    second.dispose()


def test_a_writer_waits_for_its_turn_no_longer_than_the_busy_timeout(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turns, "WAIT", 0.3)
    holder, waiter = open_engine(url), open_engine(url)
    with writing(holder) as session:
        session.execute(text("INSERT INTO settings (key, value) VALUES ('first', 'x')"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="another writer held it"):
            _write(waiter, "late")
        assert time.monotonic() - started < 5
    _write(waiter, "in time")  # the turn is free again
    assert "in time" in _settings(waiter) and "late" not in _settings(waiter)
    holder.dispose()
    waiter.dispose()


def test_a_database_without_a_file_of_its_own_takes_no_turns() -> None:
    assert turns.turns_file(":memory:") is None
    assert turns.turns_file("") is None
    assert turns.turns_file("/srv/course/grade.db") == Path("/srv/course/grade.db-writers")
