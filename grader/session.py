"""The session with the child: start it, load the submission, call it, restart it, end it.

``Submission`` is what a check's ``submission`` fixture holds. It starts a
child through the executor on first use, loads the source, keeps the
exercise's clock (counted from the first child that is ready: a slow
machine's start-up is not the student's time), restarts the child after a
crash so that one crashing function does not cost the others, and keeps how
each child ended for the report.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from grader.answers import (
    ANSWERS,
    Answers,
    CallResult,
    TensorValue,
    close,
    decode,
    flat_numbers,
    preview,
)
from grader.child import wire
from grader.executors import ChildGone, Timeout
from grader.hints import CheckFailed, error_hint, load_failure

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
    """

    MAX_RESTARTS = 3

    def __init__(
        self,
        start: Callable[[], Any],
        chunks: list[dict[str, str]],
        timeout: float | None = None,
        operations: dict[str, Any] | None = None,
    ) -> None:
        self._start = start
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
        # Functions already called twice with identical arguments (see ``call``).
        self.repeated: set[str] = set()
        # What confinement the child reached, as it reported (shown, never trusted).
        self.sandbox: dict[str, Any] = {}
        # Functions that returned a tensor past the child's cut: numbers a check never
        # sees. A check that cannot judge such a value fails the student, with a hint.
        self.too_large: dict[str, int] = {}

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
            load = {"op": "load", "chunks": self._chunks, "operations": self._operations}
            reply = self._talk(load, "(loading)")
            if not reply.get("ok"):
                self.load_error = wire.read_error(reply.get("error"))
                self._break(load_failure(self.load_error), "error")
        return self._session

    def ready(self) -> None:
        """Start a child and wait until it is confined and ready; a death before that is ours."""
        if self.broken is not None:
            raise self.broken
        if self._session is None:
            try:
                self._session = self._start()
            except (RuntimeError, OSError) as exc:
                # The grader's own machinery failed (no fork, no python): not the student's fault.
                self._environment_failed(str(exc))
            self._loaded = False
        try:
            reply = self._session.request({"op": "hello"})
        except (Timeout, ChildGone) as exc:
            ending = self._session.close()
            self._session = None
            said = [line for line in ending.output.strip().splitlines() if line.strip()]
            how = "it did not start in time" if isinstance(exc, Timeout) else str(exc)
            self._environment_failed(f"{how}: {said[-1] if said else 'it printed nothing'}")
        if isinstance(reply.get("sandbox"), dict):
            self.sandbox = dict(reply["sandbox"])
        now = time.monotonic()
        if self._timeout is not None:
            if self._budget_end is None:
                self._budget_end = now + self._timeout
            self._session.deadline = self._budget_end

    def _environment_failed(self, reason: str) -> NoReturn:
        self._break(CheckFailed("grader_failed", reason=reason[:300]), ENVIRONMENT)

    def _break(self, failure: CheckFailed, status: str) -> NoReturn:
        self.broken = SubmissionBroken(failure, status)
        self.close()
        raise self.broken

    def _talk(self, message: dict[str, Any], function: str) -> dict[str, Any]:
        try:
            return self._session.request(message)
        except Timeout:
            self._break(CheckFailed("timeout", function=function), "timeout")
        except ChildGone as gone:
            self._end_session()
            reason = str(gone)
            if message.get("op") == "load":
                self._break(CheckFailed("crashed_at_load", reason=reason), "error")
            self.restarts += 1
            if self.restarts > self.MAX_RESTARTS:
                self._break(CheckFailed("crashed_repeatedly", reason=reason), "error")
            raise CheckFailed("crashed_in_call", function=function, reason=reason) from None

    def _end_session(self) -> None:
        if self._session is not None:
            self.endings.append(self._session.close())
            self._session = None

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
        self._ensure()
        request = {
            "op": "call",
            "function": function,
            "args": list(args),
            "kwargs": kwargs,
            "then": list(then),
            "trace": trace,
            "grad_enabled": grad_enabled,
        }
        reply = self._talk(request, function)
        if repeat and reply.get("ok") and function not in self.repeated:
            self.repeated.add(function)
            again = self._talk({**request, "trace": False}, function)
            if not (
                again.get("ok")
                and _same_answer(reply.get("value"), again.get("value"))
                and _same_answer(reply.get("args"), again.get("args"))
            ):
                raise CheckFailed("leaked_state", function=function, **_two_answers(reply, again))
        # A call that failed may say nothing of its arguments (no such function); one that
        # returned says everything, or a check reading arg_ids[0] would crash, blamed.
        failed = reply.get("ok") is not True
        try:
            result = CallResult(
                function=function,
                value=decode(reply.get("value")) if reply.get("ok") else None,
                error=None if reply.get("ok") else wire.read_error(reply.get("error")),
                args=[decode(a) for a in _as_many(reply.get("args", []), args, failed)],
                arg_ids=[
                    wire.read_count(i) for i in _as_many(reply.get("arg_ids", []), args, failed)
                ],
                arg_grad_ids=[
                    None if i is None else wire.read_count(i)
                    for i in _as_many(reply.get("arg_grad_ids", []), args, failed)
                ],
                backward_passes=wire.read_count(reply.get("backward_passes", 0)),
                tripwire_backwards=wire.read_count(reply.get("tripwire_backwards", 0)),
                grad_enabled_after=reply.get("grad_enabled_after") is not False,
                ops=[(str(o[0])[:200], bool(o[1])) for o in reply.get("ops", [])[: wire.MAX_OPS]],
                then=[_step(t) for t in _as_many(reply.get("then", []), then, failed)],
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
        if result.error is not None and result.error.get("kind") == "missing_function":
            raise error_hint(result.error, function)
        self.answers.record(result, json.dumps([args, kwargs], sort_keys=True, default=str))
        ANSWERS.set(self.answers)
        return result

    def close(self) -> None:
        """End the child, keeping how it ended for the report."""
        self._end_session()


def _as_many(items: Any, sent: Sequence[Any], or_none: bool = False) -> list[Any]:
    """Return the child's list of one entry per item sent; any other count is forged.

    ``or_none``: the list may also be empty (a call that failed).
    """
    if not isinstance(items, list) or len(items) != len(sent) and not (or_none and not items):
        raise wire.Malformed("not one entry per item sent")
    return items


def _step(step: Any) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise wire.Malformed("a step is an object")
    return {"ok": step.get("ok") is True, "error": wire.read_error(step.get("error"))}


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


def _two_answers(first: dict[str, Any], second: dict[str, Any]) -> dict[str, str]:
    """Show the first and the repeated answer of one call, as far as they are numbers."""

    def shown(reply: dict[str, Any]) -> str:
        if not reply.get("ok"):
            return f"an error ({str((reply.get('error') or {}).get('type', '?'))})"
        try:
            return preview(flat_numbers(decode(reply.get("value"))))
        except (wire.Malformed, TypeError, ValueError, RecursionError):
            return "(unreadable)"

    return {"first": shown(first), "second": shown(second)}


def _same_answer(first: Any, second: Any) -> bool:
    """Whether two replies of the child hold the same answer (ids and addresses aside)."""
    return wire.same_answer(first, second, lambda got, want: close(got, want, rtol=1e-5, atol=1e-7))
