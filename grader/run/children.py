"""The children of one exercise's grade: start one, say hello, keep the one clock, restart.

``Children`` is the run stage: it owns every child process an exercise's
grade starts. It starts a child through the executor (or takes the spare
started while a call ran long), waits for its hello and keeps the sandbox
report it gives, runs the exercise's one clock (counted from the first
child that is ready: a slow machine's start-up is not the student's time),
sends each request within its deadline, ends a child that crashed or ran
past its share, and keeps how each one ended for the report.

What went wrong is a ``RunFailure``: how the run stage saw it and, when the
exercise cannot go on, the status it ends with. It carries no hint ids:
naming the mistake for the student is the judge's (``grader.judge.submission``).

A call may run for half of the time the exercise has left (``call_deadline``):
one that runs longer is stopped, and the next call gets a fresh child, so an
endless loop in one function does not erase the points of the others and the
exercise still ends within its timeout.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from grader.child import protocol
from grader.child.protocol import Call, Hello, Load, Request
from grader.run.executors import STARTUP, ChildGone, Executor, Limits, Timeout
from grader.run.executors.base import ScratchFull
from grader.run.spare import SpareChild

__all__ = ["ENVIRONMENT", "Children", "RunFailure", "Stop"]


# The status of a submission that never ran because the grading environment failed:
# never a score, always the grader's error (exit 2).
ENVIRONMENT = "grader_error"


class Stop(enum.Enum):
    """How a request to the child failed, as the run stage saw it."""

    # The grader's own machinery: no child started, or none said hello in time.
    ENVIRONMENT = "environment"
    # The exercise's time ran out while the source loaded, or while a call ran.
    TIMEOUT_AT_LOAD = "timeout_at_load"
    TIMEOUT = "timeout"
    # Only this call's share of the time ran out: its child is gone, the clock goes on.
    SHARE = "share"
    # The child died while the source loaded, in a call, or once too often.
    CRASH_AT_LOAD = "crash_at_load"
    CRASH = "crash"
    CRASHES = "crashes"
    # The child's files outgrew its share of memory or disk (a crash, counted as one).
    SCRATCH_FULL = "scratch_full"


# The status an exercise ends with when its children cannot go on; a stop not
# listed here fails one call and leaves the next to a fresh child.
_ENDS = {
    Stop.ENVIRONMENT: ENVIRONMENT,
    Stop.TIMEOUT_AT_LOAD: "timeout",
    Stop.TIMEOUT: "timeout",
    Stop.CRASH_AT_LOAD: "error",
    Stop.CRASHES: "error",
}


class RunFailure(Exception):
    """A request the child did not answer: how (``stop``), why, and the status it ends with."""

    def __init__(self, stop: Stop, reason: str = "", *, share: float = 0.0) -> None:
        self.stop = stop
        self.reason = reason
        # Seconds the call was given, for a call stopped at the end of its share.
        self.share = share
        super().__init__(f"{stop.value}: {reason}" if reason else stop.value)

    @property
    def status(self) -> str | None:
        """The status the exercise ends with, or None when only this call failed."""
        return _ENDS.get(self.stop)


class Children:
    """Every child of one exercise's grade, one at a time, within one clock.

    ``start`` starts a child (an executor's ``Session``); ``timeout`` is the
    exercise's wall-clock budget, None for none. ``waiting`` is told
    (function, seconds it may run) when a request is slow to return ("" for
    the load), so that a student facing an endless loop sees what the grade
    waits for.
    """

    MAX_RESTARTS = 3
    # Below this many seconds a call's share is not worth a fresh child: the call gets
    # all the time left, and running out of it is the exercise's timeout.
    MIN_SHARE = 1.0
    # Seconds a request runs before ``waiting`` hears of it.
    SLOW = 5.0
    # The grader's own requests (an evidence replay) run on time the clock gives back,
    # at most this share of the exercise's timeout in all: a grade still ends in bounded time.
    UNCHARGED_SHARE = 0.5

    def __init__(
        self,
        start: Callable[[], Any],
        timeout: float | None = None,
        waiting: Callable[[str, float], None] | None = None,
    ) -> None:
        self._start = start
        self._spare = SpareChild(start)
        self._waiting = waiting
        self.timeout = timeout
        self._budget_end: float | None = None
        # The executor's session of the child now running (tests hand in stand-ins).
        self._child: Any = None
        self._ready = False
        self.restarts = 0
        self._uncharged = 0.0  # seconds given back to the clock so far
        self.endings: list[Any] = []
        # What confinement the child reached, as it reported (shown, never trusted).
        self.sandbox: dict[str, Any] = {}

    @classmethod
    def of(
        cls,
        executor: Executor,
        limits: Limits,
        waiting: Callable[[str, float], None] | None = None,
    ) -> Children:
        """The children ``executor`` starts under ``limits``: the one place their time is set.

        Each child gets its start-up allowance (importing torch, confining
        itself) until its hello; from then on the exercise's own clock holds.
        """
        return cls(
            lambda: executor.start(limits, time.monotonic() + max(STARTUP, limits.timeout)),
            timeout=limits.timeout,
            waiting=waiting,
        )

    def start_early(self) -> None:
        """Start a child now, so it imports torch while pytest collects the checks."""
        if self._child is None:
            try:
                self._child = self._start()
            except (RuntimeError, OSError):
                return  # ``ready`` tries again and reports it
            self._ready = False

    def ready(self) -> bool:
        """Have a child that said hello; True when it is a new one (nothing loaded in it yet).

        A child that cannot start, or dies or stalls before its hello, is the
        grading environment's failure (``Stop.ENVIRONMENT``), never the student's.
        """
        if self._child is not None and self._ready:
            return False
        starting = time.monotonic()
        if self._child is None:
            self._child = self._spare.take()
            if self._child is not None:
                # Its start-up allowance ran from when it was started, maybe long ago.
                self._child.deadline = max(self._child.deadline, starting + STARTUP)
        if self._child is None:
            try:
                self._child = self._start()
            except (RuntimeError, OSError) as exc:
                raise RunFailure(Stop.ENVIRONMENT, str(exc)[:300]) from None
        try:
            reply = self._child.request(protocol.encode_request(Hello()))
        except (Timeout, ChildGone) as exc:
            ending = self._child.close()
            self._child = None
            said = [line for line in ending.output.strip().splitlines() if line.strip()]
            how = "it did not start in time" if isinstance(exc, Timeout) else str(exc)
            reason = f"{how}: {said[-1] if said else 'it printed nothing'}"
            raise RunFailure(Stop.ENVIRONMENT, reason[:300]) from None
        self.sandbox = protocol.read_hello(reply).sandbox
        now = time.monotonic()
        if self.timeout is not None:
            if self._budget_end is None:
                self._budget_end = now + self.timeout
            else:
                # A replacement child's start-up is the grader's time, not the student's
                # (seconds where each child imports torch afresh, no zygote).
                self._budget_end += now - starting
            self._child.deadline = self._budget_end
        self._ready = True
        return True

    def call_deadline(self) -> float | None:
        """Return until when the next call may run: half of the exercise's time left.

        Half, so that whatever one call does, the remaining checks keep as much
        time as it had; None while the exercise has no clock.
        """
        if self._budget_end is None:
            return None
        share = (self._budget_end - time.monotonic()) / 2
        return time.monotonic() + share if share >= self.MIN_SHARE else self._budget_end

    def time_left(self) -> float | None:
        """Seconds until the exercise's time is over; None while it has no clock."""
        return None if self._budget_end is None else self._budget_end - time.monotonic()

    def uncharged_left(self) -> float:
        """Seconds the grader's own requests may still take off the exercise's clock."""
        if self.timeout is None:
            return float("inf")
        return self.UNCHARGED_SHARE * self.timeout - self._uncharged

    @contextlib.contextmanager
    def uncharged(self, seconds: float) -> Iterator[float]:
        """Run the grader's own request within ``seconds`` the exercise's clock does not count.

        Yields the deadline to give that request. The clock makes room for it
        first, so the request ends at its own bound (a share, as for a call)
        and never at the exercise's end, whatever time the student had left;
        afterwards the clock keeps just the time it took, a restarted child's
        start-up included.
        """
        began = time.monotonic()
        end = self._budget_end
        if end is None:
            yield began + seconds
            return
        self._budget_end = end + seconds
        try:
            yield began + seconds
        finally:
            spent = min(time.monotonic() - began, seconds + STARTUP)
            self._uncharged += spent
            self._budget_end = end + spent
            if self._child is not None and self._ready:
                self._child.deadline = self._budget_end

    def request(self, message: Request, function: str, until: float | None = None) -> Any:
        """Send one request to the ready child and return its reply as it came (unread).

        ``until`` bounds a call more tightly than the exercise does. A child
        that times out or dies is ended here, its ending kept, and the failure
        raised as a ``RunFailure``; a crash counts against ``MAX_RESTARTS``.
        """
        child = self._child
        assert child is not None and self._ready, "request before ready()"
        began = time.monotonic()
        timers: list[threading.Timer] = []
        if until is not None and self._budget_end is not None:
            child.deadline = min(until, self._budget_end)
            # Halfway through its share a call may be a loop: have its successor ready.
            self._spare.want()
            timers.append(threading.Timer(min(self.SLOW, (until - began) / 2), self._spare.start))
        if self._waiting is not None and self._budget_end is not None:
            # The load is named "" to ``waiting``: no function of the student's runs yet.
            named = function if isinstance(message, Call) else ""
            limit = child.deadline - began
            timers.append(threading.Timer(self.SLOW, self._waiting, (named, limit)))
        for timer in timers:
            timer.daemon = True
            timer.start()
        try:
            return child.request(protocol.encode_request(message))
        except Timeout:
            self._end_child()
            if isinstance(message, Load):
                raise RunFailure(Stop.TIMEOUT_AT_LOAD) from None
            if until is None or self._budget_end is None or until >= self._budget_end:
                raise RunFailure(Stop.TIMEOUT) from None
            # Only this call's share ran out: its child is gone (stopped mid-loop), the
            # next call starts a fresh one, and the exercise's clock goes on.
            raise RunFailure(Stop.SHARE, share=round(until - began, 1)) from None
        except ChildGone as gone:
            self._end_child()
            reason = str(gone)
            if isinstance(message, Load):
                raise RunFailure(Stop.CRASH_AT_LOAD, reason) from None
            self.restarts += 1
            if self.restarts > self.MAX_RESTARTS:
                raise RunFailure(Stop.CRASHES, reason) from None
            # Files are memory too (tmpfs) or disk: the memory limit's, not a plain crash.
            stop = Stop.SCRATCH_FULL if isinstance(gone, ScratchFull) else Stop.CRASH
            raise RunFailure(stop, reason) from None
        finally:
            for timer in timers:
                timer.cancel()
            self._spare.settle()

    def output(self, limit: int) -> tuple[str, int]:
        """Return what the children printed (at most ``limit`` characters) and the bytes dropped."""
        printed = "".join(ending.output for ending in self.endings)
        return printed[:limit], sum(ending.dropped for ending in self.endings)

    def _end_child(self) -> None:
        if self._child is not None:
            self.endings.append(self._child.close())
            self._child = None
            self._ready = False

    def close(self) -> None:
        """End the child, keeping how it ended for the report (and a spare, unused)."""
        self._end_child()
        self._spare.close()
