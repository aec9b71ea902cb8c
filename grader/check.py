"""What a hidden check sees: calls into the submission as plain data, and verdicts.

Checks are ordinary pytest tests in ``checks/NN_name/``. They receive the
``submission`` fixture (a ``Submission``), call the student's functions
through it and judge the plain data that comes back, here in the trusted
process. A failed check raises ``CheckFailed`` with a hint id from the
catalogs in ``templates/locale``; its parameters fill the hint's blanks.

Nothing the child returns is trusted: decoding validates every field, and
comparisons are plain Python arithmetic in this process, which the
submission cannot patch.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from grader import content
from grader.executors import ChildGone, Timeout
from grader.shapes import explain, explain_steps, explain_swap

__all__ = [
    "CheckFailed",
    "fail",
    "expect",
    "points",
    "close",
    "expect_close",
    "expect_close_together",
    "fail_if_shaped",
    "fail_if_shifted",
    "TensorValue",
    "Opaque",
    "CallResult",
    "Submission",
    "tensor",
    "grad_mode_probe",
    "raising",
    "backward",
    "all_close",
    "as_number",
    "random_values",
    "preview",
    "expect_autograd",
]


class CheckFailed(AssertionError):
    """A check's verdict: failed, with the hint that says why."""

    def __init__(self, hint: str, **params: Any) -> None:
        self.hint = hint
        self.params = {k: _plain(v) for k, v in params.items()}
        super().__init__(f"{hint} {self.params}")


def fail(hint: str, **params: Any) -> NoReturn:
    """Fail the current check with a hint."""
    raise CheckFailed(hint, **params)


def expect(condition: bool, hint: str, **params: Any) -> None:
    """Fail the current check with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint, **params)


def points(n: float) -> pytest.MarkDecorator:
    """Give a check its points (a check without the mark is worth 1)."""
    return pytest.mark.points(n)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value][:20]
    return str(value)


# -- values from the child -------------------------------------------------
@dataclass(frozen=True)
class TensorValue:
    """A tensor as the child described it: data and autograd metadata, no live object."""

    data: list[float]
    shape: list[int]
    dtype: str
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    grad: TensorValue | None
    type: str
    id: int
    storage: int = 0  # address of the data in the child: equal for views of one tensor

    @property
    def is_floating(self) -> bool:
        return self.dtype in ("float16", "bfloat16", "float32", "float64")

    def item(self) -> float:
        expect(len(self.data) == 1, "not_one_element", shape=self.shape)
        return float(self.data[0])


@dataclass(frozen=True)
class Opaque:
    """Any other object the submission returned: its type name and repr, nothing more."""

    type: str
    repr: str


class _Malformed(Exception):
    pass


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Malformed("number expected")
    return float(v)


def decode(data: Any, depth: int = 0) -> Any:
    """Turn the child's JSON into checked Python values; reject anything malformed."""
    if depth > 30:
        raise _Malformed("too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise _Malformed("unexpected object")
    ((key, body),) = data.items()
    if key == "$tuple" and isinstance(body, list):
        return tuple(decode(v, depth + 1) for v in body)
    if key == "$dict" and isinstance(body, list):
        return {str(k): decode(v, depth + 1) for k, v in body}
    if key == "$object" and isinstance(body, dict):
        return Opaque(type=str(body.get("type", "?")), repr=str(body.get("repr", "?")))
    if key == "$tensor" and isinstance(body, dict):
        return _tensor(body)
    raise _Malformed("unknown tag")


def _tensor(body: dict[str, Any], nested: bool = False) -> TensorValue:
    raw = body.get("data")
    if isinstance(raw, (int, float, bool)):
        raw = [raw]
    if not isinstance(raw, list):
        raise _Malformed("tensor data")
    shape = body.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in shape
    ):
        raise _Malformed("tensor shape")
    grad = body.get("grad")
    if nested and grad is not None:
        raise _Malformed("a gradient has no gradient")
    return TensorValue(
        data=[_number(v) for v in raw],
        shape=shape,
        dtype=str(body.get("dtype")),
        requires_grad=body.get("requires_grad") is True,
        is_leaf=body.get("is_leaf") is True,
        grad_fn=str(body["grad_fn"]) if body.get("grad_fn") is not None else None,
        grad=_tensor(grad, nested=True) if isinstance(grad, dict) else None,
        type=str(body.get("type")),
        id=int(_number(body.get("id", 0))),
        storage=int(_number(body.get("storage", 0))),
    )


# -- what each function answered, for shapes that span calls ----------------
class Answers:
    """Remember where each returned value came from, and what a check wanted of it.

    ``expect_close`` asks it for what the same function returned, at the same
    place, for other arguments: an answer that stays put while the expected
    one moves ignores its input.
    """

    LIMIT = 500  # calls remembered per submission; older ones are forgotten

    def __init__(self) -> None:
        # id -> (function, arguments, place); the values are kept alive so ids stay unique.
        self._where: dict[int, tuple[str, str, str]] = {}
        self._kept: list[Any] = []
        self._wanted: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}

    def record(self, result: CallResult, arguments: str) -> None:
        if len(self._kept) >= self.LIMIT:
            return
        self._kept.append(result)

        def walk(value: Any, place: str) -> None:
            if isinstance(value, (TensorValue, list, tuple)):
                self._where[id(value)] = (result.function, arguments, place)
            if isinstance(value, TensorValue) and value.grad is not None:
                walk(value.grad, place + ".grad")
            elif isinstance(value, (list, tuple)):
                for k, item in enumerate(value[:100]):
                    walk(item, f"{place}[{k}]")

        walk(result.value, "value")
        for k, arg in enumerate(result.args):
            walk(arg, f"args[{k}]")

    def judged(self, actual: Any, want: list[float]) -> None:
        where = self._where.get(id(actual))
        got = flat_numbers(actual)
        if where is not None and got is not None:
            self._wanted.setdefault(where, (got, want))

    def seen_elsewhere(self, actual: Any) -> list[tuple[list[float], list[float]]]:
        where = self._where.get(id(actual))
        if where is None:
            return []
        function, arguments, place = where
        return [
            answer
            for (f, a, p), answer in self._wanted.items()
            if f == function and p == place and a != arguments
        ]


_ANSWERS: ContextVar[Answers | None] = ContextVar("answers", default=None)


def _same_answer(first: Any, second: Any) -> bool:
    """Whether two replies of the child hold the same answer (ids and addresses aside)."""
    if isinstance(first, dict) and isinstance(second, dict):
        if "$object" in first:
            # A repr may show a memory address: compare what kind of object it is.
            return "$object" in second and first["$object"].get("type") == second["$object"].get(
                "type"
            )
        keys = (first.keys() | second.keys()) - {"id", "storage"}
        return all(_same_answer(first.get(k), second.get(k)) for k in keys)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(
            _same_answer(a, b) for a, b in zip(first, second, strict=True)
        )
    if isinstance(first, float) and isinstance(second, (int, float)):
        # == first: a diverged run repeats its infinities exactly.
        return first == second or close(float(second), first, rtol=1e-5, atol=1e-7)
    return bool(first == second)


# -- comparisons, in this process ------------------------------------------
def close(actual: float, expected: float, rtol: float = 2e-4, atol: float = 1e-5) -> bool:
    """Say whether two numbers agree within float32-friendly tolerances."""
    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    return abs(actual - expected) <= atol + rtol * abs(expected)


def flat_numbers(value: Any) -> list[float] | None:
    """Flatten a tensor, number or nested list of numbers; None if it is something else."""
    if isinstance(value, TensorValue):
        return list(value.data)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for v in value:
            inner = flat_numbers(v)
            if inner is None:
                return None
            out += inner
        return out
    return None


def expect_close(
    actual: Any,
    expected: Sequence[float] | float,
    hint: str,
    rtol: float = 2e-4,
    atol: float = 1e-5,
    *,
    shapes: bool = True,
    mean_of: int | None = None,
    sum_of: int | None = None,
    example: Sequence[float] | None = None,
    **params: Any,
) -> None:
    """Fail with ``hint`` unless ``actual`` holds the numbers ``expected``.

    The hint receives ``got`` and ``want`` (first few numbers) besides ``params``.
    A wrong value whose shape names a mistake fails with that shape's hint
    instead (see ``fail_if_shaped``), unless ``shapes=False``.
    """
    want = _numbers(expected)
    got = flat_numbers(actual)
    if got is None or not all_close(got, want, rtol, atol):
        if shapes:
            fail_if_shaped(
                actual, want, rtol, atol, mean_of=mean_of, sum_of=sum_of, example=example, **params
            )
        fail(hint, got=_preview(got), want=_preview(want), **params)
    answers = _ANSWERS.get()
    if answers is not None:
        answers.judged(actual, want)


def fail_if_shaped(
    actual: Any,
    expected: Sequence[float] | float,
    rtol: float = 2e-4,
    atol: float = 1e-5,
    *,
    mean_of: int | None = None,
    sum_of: int | None = None,
    example: Sequence[float] | None = None,
    **params: Any,
) -> None:
    """Fail with a shape's hint if a known mistake turns ``expected`` into ``actual``.

    Shapes (``grader.shapes``): k times the answer (gradients accumulated over
    k backward() calls), its opposite (gradient ascent), n times it with
    ``mean_of=n`` or 1/n of it with ``sum_of=n`` (sum against mean), the
    worked ``example``'s answer, or what the same function returned for other
    inputs. Returns quietly when no shape fits: the check goes on judging.
    """
    want = _numbers(expected)
    got = flat_numbers(actual)
    if got is None:
        return
    answers = _ANSWERS.get()
    shape = explain(
        got,
        want,
        lambda g, w: close(g, w, rtol, atol),
        mean_of=mean_of,
        sum_of=sum_of,
        example=example,
        seen=answers.seen_elsewhere(actual) if answers is not None else [],
    )
    if answers is not None:
        answers.judged(actual, want)
    if shape is not None:
        shown = {"got": _preview(got), "want": _preview(want)}
        fail(shape.hint, **{**params, **shown, **shape.params})


def _numbers(expected: Sequence[float] | float) -> list[float]:
    return [float(expected)] if isinstance(expected, (int, float)) else [float(e) for e in expected]


def expect_close_together(
    outputs: Sequence[tuple[str, Any, Sequence[float] | float]],
    hint: str,
    rtol: float = 2e-4,
    atol: float = 1e-5,
    **params: Any,
) -> None:
    """Fail unless every ``(name, actual, expected)`` output holds its numbers.

    Two outputs in each other's places (``fit_line`` returning ``(b, a)``, a
    pair of gradients in the wrong order) fail with ``shape_swapped``; else the
    first wrong output fails as ``expect_close`` would, with ``what`` = its name.
    """
    got = [flat_numbers(actual) for _, actual, _ in outputs]
    want = [_numbers(e) for _, _, e in outputs]
    if all(g is not None for g in got):
        pair = explain_swap([g or [] for g in got], want, lambda g, w: close(g, w, rtol, atol))
        if pair is not None:
            i, j = pair
            shown = {"got": _preview(got[i]), "want": _preview(want[i])}
            fail("shape_swapped", **{**params, **shown}, first=outputs[i][0], second=outputs[j][0])
    for (name, actual, _), expected in zip(outputs, want, strict=True):
        expect_close(actual, expected, hint, rtol, atol, **params, what=name)


def fail_if_shifted(
    got: Sequence[Sequence[float] | float],
    want: Sequence[Sequence[float] | float],
    rtol: float = 2e-4,
    atol: float = 1e-5,
    **params: Any,
) -> None:
    """Fail with a shape's hint if ``got`` is the step sequence ``want`` shifted by one.

    ``want`` holds one step more than asked (the step after the last): a
    history recorded after each update, or one epoch too many or too few.
    Returns quietly when no shift explains ``got``: the check goes on judging.
    """

    shape = explain_steps(
        [_numbers(v) for v in got],
        [_numbers(v) for v in want],
        lambda g, w: close(g, w, rtol, atol),
    )
    if shape is not None:
        fail(shape.hint, **{**params, **shape.params})


def all_close(
    got: Sequence[float] | None, want: Sequence[float], rtol: float = 2e-4, atol: float = 1e-5
) -> bool:
    """Say whether two lists of numbers have the same length and agree element-wise."""
    return (
        got is not None
        and len(got) == len(want)
        and all(close(g, w, rtol, atol) for g, w in zip(got, want, strict=True))
    )


def as_number(value: Any) -> float | None:
    """Read a Python number or a one-element tensor/list as a float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, TensorValue) and len(value.data) == 1:
        return float(value.data[0])
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return as_number(value[0])
    return None


def random_values(rng: Any, n: int, low: float = -3.0, high: float = 3.0) -> list[float]:
    """Draw ``n`` floats in [low, high], rounded to 3 decimals so hints stay readable."""
    return [round(rng.uniform(low, high), 3) for _ in range(n)]


def preview(numbers: Iterable[float] | None) -> str:
    """Show the first few numbers of a list, for hints."""
    return _preview(numbers)


def _preview(numbers: Iterable[float] | None) -> str:
    if numbers is None:
        return "(not numbers)"
    numbers = list(numbers)
    shown = ", ".join(f"{n:.4g}" for n in numbers[:6])
    return f"[{shown}{', ...' if len(numbers) > 6 else ''}]"


def describe_value(value: Any) -> str:
    """Name what a submission returned, for hints like 'expected a tensor, got ...'."""
    if isinstance(value, TensorValue):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, Opaque):
        return f"a {value.type}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__} ({value!r})"[:120]


# -- arguments sent to the child -------------------------------------------
def tensor(
    data: Any,
    requires_grad: bool = False,
    dtype: str = "float32",
    grad: Any = None,
    ops: Sequence[str] = (),
) -> dict[str, Any]:
    """Ask the child to build a tensor argument.

    ``ops`` derive it further, in order, by: sum, mean, detach, double, or any
    one-operand operation of the table (square, sin, an exercise's own...);
    e.g. ``ops=["square"]`` gives a non-leaf ``x ** 2``.
    """
    return {
        "$tensor": {
            "data": data,
            "dtype": dtype,
            "requires_grad": requires_grad,
            "grad": grad,
            "ops": list(ops),
        }
    }


def grad_mode_probe() -> dict[str, Any]:
    """A function argument that returns the grad mode it ran in and what it was given."""
    return {"$fn": {"kind": "grad_mode"}}


def raising(message: str) -> dict[str, Any]:
    """A function argument that raises ValueError(message)."""
    return {"$fn": {"kind": "raises", "message": message}}


def backward(*path: int) -> dict[str, Any]:
    """A follow-up step: call ``.backward()`` on ``result[path...]`` after the call."""
    return {"backward": list(path)}


# -- errors raised by student code, in autograd terms ------------------------
# Which torch message becomes which hint is course data: the [patterns] of the
# English catalogs (torch_errors.toml, and the exercise's own), see grader.content.


def error_hint(error: dict[str, Any], function: str) -> CheckFailed:
    """Translate an error the student's code raised into a hint."""
    kind = error.get("kind")
    message = str(error.get("message", ""))
    where = {
        "function": function,
        "line": error.get("line") or "?",
        "type": error.get("type", ""),
        "message": message[:300],
    }
    if kind == "missing_function":
        return CheckFailed("missing_function", **where)
    if kind == "memory":
        return CheckFailed("memory_limit", **where)
    if kind == "exit":
        return CheckFailed("exited_in_call", **where)
    if error.get("type") == "NotImplementedError":
        return CheckFailed("not_implemented", **where)
    return CheckFailed(content.active().error_hint(message) or "raised", **where)


@dataclass
class CallResult:
    """What one call of a student function gave back, as data."""

    function: str
    value: Any = None
    error: dict[str, Any] | None = None
    args: list[Any] = field(default_factory=list)
    arg_ids: list[int] = field(default_factory=list)
    arg_grad_ids: list[int | None] = field(default_factory=list)
    # Backward passes of the autograd engine seen during the call. Counted when
    # the engine reads a saved tensor, so a graph of only linear operations
    # ((2 * x).sum()) shows 0: judge those through an unseen TestFunction, whose
    # ``tripwire_backwards`` counts every gradient that flows through it.
    backward_passes: int = 0
    tripwire_backwards: int = 0
    grad_enabled_after: bool = True
    ops: list[tuple[str, bool]] = field(default_factory=list)
    then: list[dict[str, Any]] = field(default_factory=list)

    def returned(self, instead: dict[str, str] | None = None) -> Any:
        """Return the value, failing the check with a hint if the function raised.

        ``instead`` swaps a generic torch-error hint for an exercise's own, e.g.
        ``{"no_grad_fn": "descent_rebinds_x"}``.
        """
        if self.error is not None:
            failure = error_hint(self.error, self.function)
            if instead and failure.hint in instead:
                failure = CheckFailed(instead[failure.hint], **failure.params)
            raise failure
        return self.value

    def tensor(self, value: Any = None, what: str = "the result") -> TensorValue:
        """Return ``value`` (default: the returned value) as a tensor, or fail naming it."""
        value = self.returned() if value is None else value
        if not isinstance(value, TensorValue):
            fail("not_a_tensor", function=self.function, what=what, got=describe_value(value))
        return value

    def pair(self) -> tuple[Any, Any]:
        """Return the two items of a returned tuple, or fail saying what came back."""
        value = self.returned()
        if not isinstance(value, tuple) or len(value) != 2:
            fail("not_a_pair", function=self.function, got=describe_value(value))
        return value[0], value[1]

    def step_ok(self, index: int = 0) -> None:
        """Fail with the translated error if follow-up step ``index`` raised."""
        step = self.then[index] if index < len(self.then) else {"ok": False, "error": {}}
        if not step.get("ok"):
            error = step.get("error")
            raise error_hint(error if isinstance(error, dict) else {}, self.function)


def expect_autograd(
    result: CallResult,
    passes: int,
    want: Sequence[float],
    through: Any = None,
    instead: dict[str, str] | None = None,
) -> None:
    """Fail unless autograd ran (``passes`` > 0), saying what happened instead.

    Right numbers without a backward pass mean a hand-derived formula
    (``uses_autograd``); with ``through`` (an unseen TestFunction) a backward
    pass that never went through it means the function was ignored.
    """
    value = result.returned(instead)
    if passes > 0:
        return
    if all_close(flat_numbers(value), want):
        fail("uses_autograd", function=result.function)
    if through is not None and result.backward_passes > 0:
        fail("no_backward_through_f", function=result.function, f=through.describe())
    fail("no_backward", function=result.function)


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
                self.load_error = dict(reply.get("error") or {})
                self._break(_load_failure(reply.get("error") or {}), "error")
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
        try:
            result = CallResult(
                function=function,
                value=decode(reply.get("value")) if reply.get("ok") else None,
                error=None if reply.get("ok") else dict(reply.get("error") or {}),
                args=[decode(a) for a in reply.get("args", [])],
                arg_ids=[int(i) for i in reply.get("arg_ids", [])],
                arg_grad_ids=[None if i is None else int(i) for i in reply.get("arg_grad_ids", [])],
                backward_passes=int(reply.get("backward_passes", 0)),
                tripwire_backwards=int(reply.get("tripwire_backwards", 0)),
                grad_enabled_after=reply.get("grad_enabled_after") is not False,
                ops=[(str(o[0]), bool(o[1])) for o in reply.get("ops", [])],
                then=[dict(t) for t in reply.get("then", []) if isinstance(t, dict)],
            )
        except (_Malformed, TypeError, ValueError, IndexError, AttributeError, RecursionError):
            raise CheckFailed("malformed_reply", function=function) from None
        if result.error is not None and result.error.get("kind") == "missing_function":
            raise error_hint(result.error, function)
        self.answers.record(result, json.dumps([args, kwargs], sort_keys=True, default=str))
        _ANSWERS.set(self.answers)
        return result

    def close(self) -> None:
        """End the child, keeping how it ended for the report."""
        self._end_session()


def _two_answers(first: dict[str, Any], second: dict[str, Any]) -> dict[str, str]:
    """Show the first and the repeated answer of one call, as far as they are numbers."""

    def shown(reply: dict[str, Any]) -> str:
        if not reply.get("ok"):
            return f"an error ({str((reply.get('error') or {}).get('type', '?'))})"
        try:
            return _preview(flat_numbers(decode(reply.get("value"))))
        except (_Malformed, TypeError, ValueError, RecursionError):
            return "(unreadable)"

    return {"first": shown(first), "second": shown(second)}


def _load_failure(error: dict[str, Any]) -> CheckFailed:
    kind = error.get("kind")
    params = {
        "line": error.get("line") or "?",
        "type": error.get("type", ""),
        "message": str(error.get("message", ""))[:300],
        "text": error.get("text", ""),
    }
    if kind == "syntax":
        return CheckFailed("syntax_error", **params)
    if kind == "memory":
        return CheckFailed("memory_limit", function="(module level)", **params)
    if kind == "exit":
        return CheckFailed("exited_at_load", **params)
    return CheckFailed("raised_at_load", **params)
