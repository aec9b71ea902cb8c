"""Writers to one SQLite file take turns on an OS lock beside it, not in SQLite's busy handler.

SQLite lets one writer in at a time; the others wait in its busy handler,
which sleeps between tries (1, 2, 5 ... up to 100 ms) and favours nobody.
With two web processes and the grading workers writing to one file, a writer
that keeps missing the moment the lock is free slept there for 0.7 to 1.7 s
while the others wrote on. So every write transaction on SQLite first takes
an exclusive ``flock`` on ``<database>-writers`` and gives it back once its
COMMIT (or ROLLBACK) is done. A waiter tries again every few hundred
microseconds, so a turn passes on within a millisecond or two of its end;
the kernel gives the lock back when a process dies, ``kill -9`` included.
The wait is bounded (the busy timeout, 30 s): then the write fails as
"database is locked" would, and the request gets its 503.

Each connection opens the lock file itself: ``flock`` locks belong to an open
file, so two connections of one process exclude each other too.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
from pathlib import Path
from typing import IO

__all__ = ["TakingTurns", "turns_file"]

WAIT = 30.0  # seconds a writer waits for its turn at most: the busy timeout
FIRST_PAUSE, LONGEST_PAUSE = 0.0002, 0.002  # between two tries, doubling up to the longest


def turns_file(database: str | None) -> Path | None:
    """The lock file beside ``database``'s file; None for a database with no file of its own."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + "-writers")


class TakingTurns(sqlite3.Connection):
    """A SQLite connection whose write transactions take turns with every other writer's."""

    _turns: IO[bytes] | None = None
    _holding = False

    def open_turns(self, path: Path | None) -> None:
        """Take turns on ``path`` (None, or a file not to be opened: SQLite's handler alone)."""
        if path is None:
            return
        try:
            self._turns = open(path, "a+b")  # noqa: SIM115 (open as long as the connection)
        except OSError:
            self._turns = None  # a read-only folder: there is nothing to write anyway

    def take_turn(self) -> None:
        """Wait for this connection's turn to write (raises OperationalError after WAIT)."""
        if self._turns is None or self._holding:
            return
        give_up = time.monotonic() + WAIT
        pause = FIRST_PAUSE
        while True:
            try:
                fcntl.flock(self._turns, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise sqlite3.OperationalError(
                        f"database is locked: another writer held it for {WAIT:.0f} s"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                continue
            self._holding = True
            return

    def end_turn(self) -> None:
        if self._holding and self._turns is not None:
            self._holding = False
            fcntl.flock(self._turns, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()
            if self._turns is not None:
                self._turns.close()
                self._turns = None
