"""The session with the child: start it, load the submission, call it, restart it, end it.

``Submission`` is what a check's ``submission`` fixture holds. It starts a
child through the executor on first use, loads the source, keeps the
exercise's clock (counted from the first child that is ready: a slow
machine's start-up is not the student's time), restarts the child after a
crash so that one crashing function does not cost the others, and keeps how
each child ended for the report.

A call may run for half of the time the exercise has left (``call_deadline``):
one that runs longer is stopped, fails the checks that need its function, and
the next call gets a fresh child, so an endless loop in one function does not
erase the points of the others and the exercise still ends within its timeout.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from grader.child import protocol, wire
from grader.child.protocol import Call, Chunk, ErrorKind, Hello, Load, Request
from grader.judge.answers import (
    ANSWERS,
    Answers,
    CallResult,
    TensorValue,
    close,
    decode,
    flat_numbers,
    preview,
)
from grader.judge.hints import CheckFailed, error_hint, load_failure
from grader.run.executors import STARTUP, ChildGone, Timeout
from grader.run.executors.base import ScratchFull
from grader.run.spare import SpareChild

__all__ = ["ENVIRONMENT", "Submission", "SubmissionBroken"]


# The status of a submission that never ran because the grading environment failed:
# never a score, always the grader's error (exit 2).
ENVIRONMENT = "grader_error"


class SubmissionBroken(Exception):
    """The submission could not be loaded, timed out or kept crashing: no call can run."""

    def __init__(self, failure: CheckFailed, status: str) -> None:
        self.failure = failure
        self.status = status
        super().__init__(str(failure))


class Submission:
    """The student's module as the checks see it: callable by name, through the executor.

    Starts the child on first use, loads the source, and restarts the child
    after a crash so that one crashing function does not cost the others.
    A check gets it as the ``submission`` fixture. Example:
    ``grad = submission.call("mean_grad", f.spec(), values).tensor()``.
    """

    MAX_RESTARTS = 3
    # Below this many seconds a call's share is not worth a fresh child: the call gets
    # all the time left, and running out of it is the exercise's timeout.
    MIN_SHARE = 1.0
    # Seconds a call runs before ``waiting`` hears of it.
    SLOW = 5.0

    def __init__(
        self,
        start: Callable[[], Any],
        chunks: Sequence[Chunk],
        timeout: float | None = None,
        operations: dict[str, Any] | None = None,
        waiting: Callable[[str, float], None] | None = None,
    ) -> None:
        self._start = start
        self._spare = SpareChild(start)
        # Told (function, seconds it may run) when a call is slow to return ("" for the
        # load), so that a student facing an endless loop sees what the grade waits for.
        self._waiting = waiting
        self._chunks = chunks
        # The exercise's own operations for unseen functions, built by the child at load.
        self._operations = operations or {}
        # The exercise's wall-clock budget, counted from the first child that is ready
        # (confined, torch imported): a slow machine's start-up is not the student's time.
        self._timeout = timeout
        self._budget_end: float | None = None
        self._session: Any = None
        self._loaded = False
        self.broken: SubmissionBroken | None = None
        self.restarts = 0
        self.endings: list[Any] = []
        self.load_error: dict[str, Any] | None = None
        self.answers = Answers()
        # A check that finds a wrong value may replay its call for evidence (grader.judge.causes).
        self.answers.replay = self.replay_with_evidence
        # Functions already called twice with identical arguments (see ``call``).
        self.repeated: set[str] = set()
        # Functions stopped for running past their share, with that share in seconds:
        # a later call fails at once instead of spending another share on the same loop.
        self.hung: dict[str, float] = {}
        # What confinement the child reached, as it reported (shown, never trusted).
        self.sandbox: dict[str, Any] = {}
        # Functions that returned a tensor past the child's cut: numbers a check never
        # sees. A check that cannot judge such a value fails the student, with a hint.
        self.too_large: dict[str, int] = {}
        # The function whose answer a check got last: the one a check that crashed on
        # an answer could not judge (grader.judge.reference).
        self.last_returned = ""

    def start_early(self) -> None:
        """Start the child now, so it imports torch while pytest collects the checks."""
        if self._session is None and self.broken is None:
            try:
                self._session = self._start()
            except (RuntimeError, OSError):
                return  # _ensure tries again and reports it
            self._loaded = False

    def _ensure(self) -> Any:
        if self.broken is not None:
            raise self.broken
        if self._session is None:
            self._loaded = False  # a crash ended the last child: the next one loads afresh
        if not self._loaded:
            self.ready()
            self._loaded = True
            load = Load(tuple(self._chunks), self._operations)
            try:
                loaded = protocol.read_load(self._talk(load, "(loading)"))
            except wire.Malformed:
                loaded = protocol.LoadReply(False, error={})
            self.answers.grad_enabled_at_import = loaded.grad_enabled
            if not loaded.ok:
                self.load_error = loaded.error or {}
                self._break(load_failure(self.load_error), "error")
        return self._session

    def ready(self) -> None:
        """Start a child and wait until it is confined and ready; a death before that is ours."""
        if self.broken is not None:
            raise self.broken
        starting = time.monotonic()
        if self._session is None:
            self._session = self._spare.take()
            if self._session is not None:
                # Its start-up allowance ran from when it was started, maybe long ago.
                self._session.deadline = max(self._session.deadline, starting + STARTUP)
        if self._session is None:
            try:
                self._session = self._start()
            except (RuntimeError, OSError) as exc:
                # The grader's own machinery failed (no fork, no python): not the student's fault.
                self._environment_failed(str(exc))
            self._loaded = False
        try:
            reply = self._session.request(protocol.encode_request(Hello()))
        except (Timeout, ChildGone) as exc:
            ending = self._session.close()
            self._session = None
            said = [line for line in ending.output.strip().splitlines() if line.strip()]
            how = "it did not start in time" if isinstance(exc, Timeout) else str(exc)
            self._environment_failed(f"{how}: {said[-1] if said else 'it printed nothing'}")
        self.sandbox = protocol.read_hello(reply).sandbox
        now = time.monotonic()
        if self._timeout is not None:
            if self._budget_end is None:
                self._budget_end = now + self._timeout
            else:
                # A replacement child's start-up is the grader's time, not the student's
                # (seconds where each child imports torch afresh, no zygote).
                self._budget_end += now - starting
            self._session.deadline = self._budget_end

    def _environment_failed(self, reason: str) -> NoReturn:
        self._break(CheckFailed("grader_failed", reason=reason[:300]), ENVIRONMENT)

    def _break(self, failure: CheckFailed, status: str) -> NoReturn:
        self.broken = SubmissionBroken(failure, status)
        self.close()
        raise self.broken

    def call_deadline(self) -> float | None:
        """Return until when the next call may run: half of the exercise's time left.

        Half, so that whatever one call does, the remaining checks keep as much
        time as it had; None while the exercise has no clock.
        """
        if self._budget_end is None:
            return None
        share = (self._budget_end - time.monotonic()) / 2
        return time.monotonic() + share if share >= self.MIN_SHARE else self._budget_end

    def _talk(self, message: Request, function: str, until: float | None = None) -> Any:
        """Send one request; ``until`` bounds a call more tightly than the exercise does."""
        began = time.monotonic()
        timers: list[threading.Timer] = []
        if until is not None and self._budget_end is not None:
            self._session.deadline = min(until, self._budget_end)
            # Halfway through its share a call may be a loop: have its successor ready.
            self._spare.want()
            timers.append(threading.Timer(min(self.SLOW, (until - began) / 2), self._spare.start))
        if self._waiting is not None and self._budget_end is not None:
            # The load is named "" to ``waiting``: no function of the student's runs yet.
            named = function if isinstance(message, Call) else ""
            limit = self._session.deadline - began
            timers.append(threading.Timer(self.SLOW, self._waiting, (named, limit)))
        for timer in timers:
            timer.daemon = True
            timer.start()
        try:
            return self._session.request(protocol.encode_request(message))
        except Timeout:
            if isinstance(message, Load):
                self._break(CheckFailed("timeout_at_load", timeout=self._seconds()), "timeout")
            if until is None or self._budget_end is None or until >= self._budget_end:
                self._break(CheckFailed("timeout", function=function), "timeout")
            # Only this call's share ran out: its child is gone (stopped mid-loop), the
            # next call starts a fresh one, and the exercise's clock goes on.
            self._end_session()
            self.hung[function] = round(until - began, 1)
            raise self._hung(function) from None
        except ChildGone as gone:
            self._end_session()
            reason = str(gone)
            if isinstance(message, Load):
                self._break(CheckFailed("crashed_at_load", reason=reason), "error")
            self.restarts += 1
            if self.restarts > self.MAX_RESTARTS:
                self._break(CheckFailed("crashed_repeatedly", reason=reason), "error")
            if isinstance(gone, ScratchFull):
                # Files are memory too (tmpfs) or disk: the memory limit's hint.
                raise CheckFailed("memory_limit", function=function) from None
            raise CheckFailed("crashed_in_call", function=function, reason=reason) from None
        finally:
            for timer in timers:
                timer.cancel()
            self._spare.settle()

    def _end_session(self) -> None:
        if self._session is not None:
            self.endings.append(self._session.close())
            self._session = None

    def _hung(self, function: str) -> CheckFailed:
        return CheckFailed(
            "call_timeout",
            function=function,
            limit=f"{self.hung[function]:g}",
            timeout=self._seconds(),
        )

    def _seconds(self) -> str:
        return f"{self._timeout:g}" if self._timeout is not None else "?"

    def call(
        self,
        function: str,
        *args: Any,
        then: Sequence[dict[str, Any]] = (),
        trace: bool = False,
        grad_enabled: bool = True,
        repeat: bool = True,
        **kwargs: Any,
    ) -> CallResult:
        """Call ``function`` in the submission with plain-data arguments.

        ``then`` lists follow-up steps run on the result (see ``backward``);
        ``trace`` records every torch operation with the grad mode it ran in
        (``CallResult.ops``); ``grad_enabled`` is the grad mode the call starts in.
        The first call of each function that returns is made twice with the
        same arguments: different answers fail with ``leaked_state`` (a cache,
        a module-level tensor, a mutable default argument). ``repeat=False``
        leaves an expensive call to a later, cheaper one.
        """
        if function in self.hung:
            raise self._hung(function)
        self._ensure()
        request = Call(function, tuple(args), dict(kwargs), tuple(then), trace, grad_enabled)
        started = time.monotonic()
        answered = self._talk(request, function, self.call_deadline())
        seconds = time.monotonic() - started
        try:
            reply = protocol.read_call(answered, request)
            if repeat and reply.ok and function not in self.repeated:
                self.repeated.add(function)
                repeated = request.again(trace=False)
                again = protocol.read_call(
                    self._talk(repeated, function, self.call_deadline()), repeated
                )
                if not (
                    again.ok
                    and _same_answer(reply.value, again.value)
                    and _same_answer(reply.args, again.args)
                ):
                    raise CheckFailed(
                        "leaked_state", function=function, **_two_answers(reply, again)
                    )
            result = CallResult(
                function=function,
                value=decode(reply.value) if reply.ok else None,
                error=reply.error,
                args=[decode(a) for a in reply.args],
                **reply.evidence(),
                ops=reply.ops,
                then=reply.then,
                arg_versions=reply.arg_versions,
                request=request,
                seconds=seconds,
            )
        except (
            wire.Malformed,
            TypeError,
            ValueError,
            IndexError,
            AttributeError,
            RecursionError,
            OverflowError,
        ):
            raise CheckFailed("malformed_reply", function=function) from None
        numel = _past_the_cut(result.value)
        if numel:
            self.too_large.pop(function, None)  # the latest last: the one a crash is about
            self.too_large[function] = numel
        if result.error is not None and result.error.get("kind") == ErrorKind.MISSING_FUNCTION:
            raise error_hint(result.error, function)
        self.answers.record(result, json.dumps([args, kwargs], sort_keys=True, default=str))
        ANSWERS.set(self.answers)
        self.last_returned = function
        return result

    def replay_with_evidence(self, result: CallResult) -> None:
        """Call ``result``'s function again, recording the graph's evidence into ``result.graph``.

        Only for a value a check already found wrong, so a correct submission never
        pays for it; skipped when the exercise's time could not cover a slower repeat
        (a replay that timed out would end the submission), and silent when the
        replay fails: evidence only chooses a hint's words, it never changes a verdict.
        """
        if result.graph is not None or result.request is None or self.broken is not None:
            return
        result.graph = {}
        if self.restarts >= self.MAX_RESTARTS or (
            self._budget_end is not None
            and time.monotonic() + 3 * result.seconds + 1.0 > self._budget_end
        ):
            return  # one more crash, or a slower repeat, would cost the student
        restarts, hung = self.restarts, dict(self.hung)
        # The replay's own bound, inside the call's share: a replay that runs past it
        # stops its child like any call, and nothing of that is charged to the student.
        until = self.call_deadline()
        if until is not None:
            until = min(until, time.monotonic() + 3 * result.seconds + 1.0)
        try:
            self._ensure()
            replay = result.request.again(trace=False, evidence=True)
            answered = self._talk(replay, result.function, until)
        except (CheckFailed, SubmissionBroken):
            self.restarts, self.hung = restarts, hung  # a crash in our replay is not charged
            return
        result.graph = protocol.read_graph(
            answered.get("graph") if isinstance(answered, dict) else None
        )

    def close(self) -> None:
        """End the child, keeping how it ended for the report (and a spare, unused)."""
        self._end_session()
        self._spare.close()


def _past_the_cut(value: Any) -> int:
    """Return how many numbers the largest tensor past the child's cut holds, else 0."""
    stack, largest = [value], 0
    while stack and len(stack) < 10_000:
        item = stack.pop()
        if isinstance(item, TensorValue):
            numel = math.prod(item.shape)
            if numel > len(item.data):
                largest = max(largest, numel)
        elif isinstance(item, (list, tuple)):
            stack.extend(item[:1000])
        elif isinstance(item, dict):
            stack.extend(list(item.values())[:1000])
    return largest


def _two_answers(first: protocol.CallReply, second: protocol.CallReply) -> dict[str, str]:
    """Show the first and the repeated answer of one call, as far as they are numbers."""

    def shown(reply: protocol.CallReply) -> str:
        if not reply.ok:
            return f"an error ({str((reply.error or {}).get('type', '?'))})"
        try:
            return preview(flat_numbers(decode(reply.value)))
        except (wire.Malformed, TypeError, ValueError, RecursionError):
            return "(unreadable)"

    return {"first": shown(first), "second": shown(second)}


def _same_answer(first: Any, second: Any) -> bool:
    """Whether two replies of the child hold the same answer (ids and addresses aside)."""
    return wire.same_answer(first, second, lambda got, want: close(got, want, rtol=1e-5, atol=1e-7))
