"""The server's one clock: every "now" of the server is read here, so tests can set it.

Times are naive UTC throughout (SQLite keeps no time zone; PostgreSQL's
``timestamp`` columns are read back as written), so they always compare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

__all__ = ["now", "using"]


def _system() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


_CLOCK: ContextVar[Callable[[], datetime]] = ContextVar("clock", default=_system)


def now() -> datetime:
    """Return the current time, naive UTC, from the clock in use."""
    return _CLOCK.get()()


@contextmanager
def using(clock: Callable[[], datetime]) -> Iterator[None]:
    """Read every "now" from ``clock`` inside the block (a test's fake clock)."""
    token = _CLOCK.set(clock)
    try:
        yield
    finally:
        _CLOCK.reset(token)
