"""A spare child for a submission: started while a call runs long, to replace its child.

Where each child imports torch afresh (no zygote), a replacement started only
once a call is stopped adds its whole start-up to the grade. Started while the
call still runs (``Submission`` asks for one halfway through a call's share),
it is ready, or nearly, when it is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SpareChild"]


class SpareChild:
    """At most one child started ahead, between ``want`` and ``settle`` of a call.

    ``start`` runs on a timer's thread; the lock keeps a call that returned from
    leaving a child behind that nobody closes.
    """

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._session: Any = None
        self._wanted = False

    def want(self) -> None:
        """A call has begun: a spare may be started until it returns."""
        with self._lock:
            self._wanted = True

    def start(self) -> None:
        """Start one (on a timer's thread) unless the call has returned meanwhile."""
        with self._lock:
            if not self._wanted or self._session is not None:
                return
            try:
                self._session = self._start()
            except (RuntimeError, OSError):
                pass  # the replacement is started the ordinary way, and fails there

    def settle(self) -> None:
        """The call has returned: start none from now on."""
        with self._lock:
            self._wanted = False

    def take(self) -> Any:
        """Hand over the spare session, if one was started (None otherwise)."""
        with self._lock:
            session, self._session = self._session, None
        return session

    def close(self) -> None:
        """End a spare nobody took."""
        session = self.take()
        if session is not None:
            session.close()  # never loaded: nothing of the student's in its output
