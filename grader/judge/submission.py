"""The submission as the checks see it: its functions, callable by name as plain data.

``Submission`` is what a check's ``submission`` fixture holds. It loads the
student's source into each new child the run stage (``grader.run.children``)
readies, calls functions on the checks' behalf, records the answers, and
turns how a request failed into the hint the student reads: a function that
crashed, a call that ran past its share, code that did not load.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from grader.child import protocol, wire
from grader.child.protocol import Call, Chunk, ErrorKind, Load, Request
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
from grader.run.children import Children, RunFailure, Stop

__all__ = ["Submission", "SubmissionBroken"]

# An evidence replay's bound: this many times the call's own seconds, and some more.
REPLAY_SLOWER = 6.0
REPLAY_SLACK = 2.0


class SubmissionBroken(Exception):
    """The submission could not be loaded, timed out or kept crashing: no call can run."""

    def __init__(self, failure: CheckFailed, status: str) -> None:
        self.failure = failure
        self.status = status
        super().__init__(str(failure))


class Submission:
    """The student's module as the checks see it: callable by name, in the run stage's children.

    Loads the source into every new child, so that after a crash one
    function's failure does not cost the others. A check gets it as the
    ``submission`` fixture. Example:
    ``grad = submission.call("mean_grad", f.spec(), values).tensor()``.
    """

    def __init__(
        self,
        children: Children,
        chunks: Sequence[Chunk],
        operations: dict[str, Any] | None = None,
    ) -> None:
        self.children = children
        self._chunks = chunks
        # The exercise's own operations for unseen functions, built by the child at load.
        self._operations = operations or {}
        self.broken: SubmissionBroken | None = None
        self.load_error: dict[str, Any] | None = None
        self.answers = Answers()
        # A check that finds a wrong value may replay its call for evidence (grader.judge.causes).
        self.answers.replay = self.replay_with_evidence
        # Functions already called twice with identical arguments (see ``call``).
        self.repeated: set[str] = set()
        # Functions stopped for running past their share, with that share in seconds:
        # a later call fails at once instead of spending another share on the same loop.
        self.hung: dict[str, float] = {}
        # Functions that returned a tensor past the child's cut: numbers a check never
        # sees. A check that cannot judge such a value fails the student, with a hint.
        self.too_large: dict[str, int] = {}
        # The function whose answer a check got last: the one a check that crashed on
        # an answer could not judge (grader.judge.reference).
        self.last_returned = ""

    def start_early(self) -> None:
        """Start the child now, so it imports torch while pytest collects the checks."""
        if self.broken is None:
            self.children.start_early()

    def _ensure(self) -> None:
        """Have a ready child with the source loaded in it."""
        if self.broken is not None:
            raise self.broken
        try:
            fresh = self.children.ready()
        except RunFailure as failure:
            self._failed(failure, "")
        if not fresh:
            return
        load = Load(tuple(self._chunks), self._operations)
        try:
            loaded = protocol.read_load(self._talk(load, "(loading)"))
        except wire.Malformed:
            loaded = protocol.LoadReply(False, error={})
        self.answers.grad_enabled_at_import = loaded.grad_enabled
        if not loaded.ok:
            self.load_error = loaded.error or {}
            self._break(load_failure(self.load_error), "error")

    def _break(self, failure: CheckFailed, status: str) -> NoReturn:
        self.broken = SubmissionBroken(failure, status)
        self.close()
        raise self.broken

    def _talk(self, message: Request, function: str, until: float | None = None) -> Any:
        """Send one request; ``until`` bounds a call more tightly than the exercise does."""
        try:
            return self.children.request(message, function, until)
        except RunFailure as failure:
            self._failed(failure, function)

    def _failed(self, failure: RunFailure, function: str) -> NoReturn:
        """Name for the student how a request failed; end the submission if it cannot go on."""
        if failure.stop is Stop.SHARE:
            self.hung[function] = failure.share
        hint = self._hint(failure, function)
        if failure.status is not None:
            self._break(hint, failure.status)
        raise hint from None

    def _hint(self, failure: RunFailure, function: str) -> CheckFailed:
        stop, reason = failure.stop, failure.reason
        if stop is Stop.ENVIRONMENT:
            return CheckFailed("grader_failed", reason=reason)
        if stop is Stop.TIMEOUT_AT_LOAD:
            return CheckFailed("timeout_at_load", timeout=self._seconds())
        if stop is Stop.TIMEOUT:
            return CheckFailed("timeout", function=function)
        if stop is Stop.SHARE:
            return self._hung(function)
        if stop is Stop.CRASH_AT_LOAD:
            return CheckFailed("crashed_at_load", reason=reason)
        if stop is Stop.CRASHES:
            return CheckFailed("crashed_repeatedly", reason=reason)
        if stop is Stop.SCRATCH_FULL:
            # Files are memory too (tmpfs) or disk: the memory limit's hint.
            return CheckFailed("memory_limit", function=function)
        return CheckFailed("crashed_in_call", function=function, reason=reason)

    def _hung(self, function: str) -> CheckFailed:
        return CheckFailed(
            "call_timeout",
            function=function,
            limit=f"{self.hung[function]:g}",
            timeout=self._seconds(),
        )

    def _seconds(self) -> str:
        timeout = self.children.timeout
        return f"{timeout:g}" if timeout is not None else "?"

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
        answered = self._talk(request, function, self.children.call_deadline())
        seconds = time.monotonic() - started
        try:
            reply = protocol.read_call(answered, request)
            if repeat and reply.ok and function not in self.repeated:
                self.repeated.add(function)
                repeated = request.again(trace=False)
                again = protocol.read_call(
                    self._talk(repeated, function, self.children.call_deadline()), repeated
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
        pays for it; on time the exercise's clock gives back, within a bound of its
        own (a replay past it is stopped like a call past its share); skipped when
        the grader's time in this exercise is spent; and silent when the replay
        fails: evidence only chooses a hint's words, it never changes a verdict.
        """
        if result.graph is not None or result.request is None or self.broken is not None:
            return
        result.graph = {}
        children = self.children
        # Recording the graph's evidence runs a call about 2.5 times slower; a loaded
        # machine slower still. The replay is the grader's time, given back to the clock.
        bound = REPLAY_SLOWER * result.seconds + REPLAY_SLACK
        if children.restarts >= children.MAX_RESTARTS or bound > children.uncharged_left():
            return  # one more crash would cost the student; or the grade would run long
        restarts, hung = children.restarts, dict(self.hung)
        with children.uncharged(bound) as until:
            try:
                self._ensure()
                replay = result.request.again(trace=False, evidence=True)
                answered = self._talk(replay, result.function, until)
            except (CheckFailed, SubmissionBroken):
                children.restarts, self.hung = restarts, hung  # our replay's crash: not charged
                return
        result.graph = protocol.read_graph(
            answered.get("graph") if isinstance(answered, dict) else None
        )

    def close(self) -> None:
        """End the child, keeping how it ended for the report (and a spare, unused)."""
        self.children.close()


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
