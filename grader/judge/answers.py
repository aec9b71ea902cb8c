"""What the submission answered, as the judge holds it: checked plain data, never live objects.

Nothing the child returns is trusted: ``decode`` validates every field of a
reply (``grader.child.wire``), and a tensor arrives as a ``TensorValue``,
its numbers and autograd metadata only. ``Answers`` remembers where each
value came from, so a comparison can tell an answer that ignores its input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from grader.child import wire
from grader.child.protocol import Call, step_outcome
from grader.judge.hints import CheckFailed, error_hint, expect, fail

__all__ = [
    "TensorValue",
    "Opaque",
    "CallResult",
    "Answers",
    "ANSWERS",
    "decode",
    "close",
    "flat_numbers",
    "preview",
    "describe_value",
]


@dataclass(frozen=True)
class TensorValue:
    """A tensor as the child described it: data and autograd metadata, no live object.

    ``data`` holds its numbers flattened, ``shape`` its sizes (``[]`` for a
    0-dim tensor), ``dtype`` a name such as ``"float32"``; ``requires_grad``,
    ``is_leaf``, ``grad_fn`` (its name, or None) and ``grad`` (a TensorValue
    or None) are autograd's view of it; ``type`` is ``"Tensor"`` or a
    subclass's name; ``id`` is ``id()`` of the object in the child and
    ``storage`` the address of its data, so two results are the same object
    (``a.id == b.id``) or views of one tensor (``a.storage == b.storage``).

    Example: ``t = submission.call("make_leaf", [1, 2]).tensor();
    expect(t.requires_grad and t.is_leaf, "not_tracked")``.
    """

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
    version: int = 0  # in-place writes to that data (shared by views); -1 when not kept
    inference: bool = False  # made under torch.inference_mode(): autograd cannot use it

    @property
    def is_floating(self) -> bool:
        """Whether ``dtype`` is a floating-point type (float16, bfloat16, float32, float64)."""
        return self.dtype in ("float16", "bfloat16", "float32", "float64")

    def item(self) -> float:
        """Return the one number of a one-element tensor, or fail with ``not_one_element``."""
        expect(len(self.data) == 1, "not_one_element", shape=self.shape)
        return float(self.data[0])


@dataclass(frozen=True)
class Opaque:
    """Any other object the submission returned: its type name and repr, nothing more.

    Example: ``if isinstance(value, Opaque): fail("not_a_tensor", got=value.type)``.
    """

    type: str
    repr: str


def decode(data: Any) -> Any:
    """Turn the child's JSON into checked Python values; raise ``wire.Malformed`` otherwise."""
    return wire.read(data, TensorValue, Opaque)


@dataclass
class CallResult:
    """What one call of a student function gave back, as data.

    ``value`` is what it returned and ``error`` what it raised (None, or
    ``{"kind", "type", "message", "line"}``): read them through ``returned()``,
    which turns an error into its hint. ``args`` holds the arguments as they
    were after the call (their ``.grad`` included), ``arg_ids`` and
    ``arg_grad_ids`` the ids of the arguments and their gradients;
    ``backward_passes`` counts the autograd engine's backward passes during
    the call and ``tripwire_backwards`` those that went through an unseen
    function; ``grad_enabled_after`` is the grad mode the call left behind;
    ``ops`` lists (operation, grad enabled) with ``trace=True``; ``then``
    the outcome of each follow-up step.

    Example: ``result = submission.call("pair_grads", f.spec(), x1, x2);
    g1, g2 = result.pair()``.
    """

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
    # [version, grad's version] of each tensor argument before the call (-1: no grad).
    arg_versions: list[list[int] | None] = field(default_factory=list)
    # What the computation looked like (grader.child.evidence), only when a replay
    # asked for it; see ``grader.judge.causes``.
    graph: dict[str, Any] | None = None
    request: Call | None = field(default=None, repr=False)  # what made this call
    seconds: float = 0.0  # how long the call took, to tell whether a replay fits the time

    def returned(self, instead: dict[str, str] | None = None) -> Any:
        """Return the value, failing the check with a hint if the function raised.

        ``instead`` swaps a generic torch-error hint for an exercise's own, e.g.
        ``{"no_grad_fn": "descent_rebinds_x"}``, for this call only: a check keeps a
        torch-error pattern to one function this way (an exercise's ``[patterns]``
        apply to all of its functions).
        """
        if self.error is not None:
            failure = error_hint(self.error, self.function)
            if instead and failure.hint in instead:
                failure = CheckFailed(instead[failure.hint], **failure.params)
            raise failure
        return self.value

    def tensor(self, value: Any = None, what: str = "the result") -> TensorValue:
        """Return ``value`` (default: the returned value) as a tensor, or fail naming it.

        ``what`` names it in the ``not_a_tensor`` hint ("the gradient for x1"); the
        ``[words]`` of a catalog translate it.
        """
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
        step = self.then[index] if index < len(self.then) else step_outcome({})
        if not step.get("ok"):
            error = step.get("error")
            raise error_hint(error if isinstance(error, dict) else {}, self.function)


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
        self._results: dict[int, CallResult] = {}
        # How to ask the submission again with evidence (set by the session).
        self.replay: Callable[[CallResult], None] | None = None
        # Whether grad mode was still on once the file was imported (the child says).
        self.grad_enabled_at_import = True

    def record(self, result: CallResult, arguments: str) -> None:
        if len(self._kept) >= self.LIMIT:
            return
        self._kept.append(result)

        def walk(value: Any, place: str) -> None:
            if isinstance(value, (TensorValue, list, tuple)):
                self._where[id(value)] = (result.function, arguments, place)
                self._results[id(value)] = result
            if isinstance(value, TensorValue) and value.grad is not None:
                walk(value.grad, place + ".grad")
            elif isinstance(value, (list, tuple)):
                for k, item in enumerate(value[:100]):
                    walk(item, f"{place}[{k}]")

        walk(result.value, "value")
        for k, arg in enumerate(result.args):
            walk(arg, f"args[{k}]")

    def result_of(self, value: Any) -> CallResult | None:
        """Return the call that returned ``value`` (a tensor, list or tuple), if recorded."""
        return self._results.get(id(value))

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


# The current submission's answers, for the comparisons of grader.check.
ANSWERS: ContextVar[Answers | None] = ContextVar("answers", default=None)


def close(actual: float, expected: float, rtol: float = 2e-4, atol: float = 1e-5) -> bool:
    """Say whether two numbers agree within float32-friendly tolerances.

    Example: ``close(0.1 + 0.2, 0.3)`` is True; ``close(1.0, 1.01)`` is False.
    """
    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    return abs(actual - expected) <= atol + rtol * abs(expected)


def flat_numbers(value: Any) -> list[float] | None:
    """Flatten a tensor, number or nested list of numbers; None if it is something else.

    Example: ``flat_numbers([[1, 2], (3.5,)])`` is ``[1.0, 2.0, 3.5]``;
    ``flat_numbers(None)`` is None.
    """
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


def preview(numbers: Iterable[float] | None) -> str:
    """Show the first few numbers of a list, for hints.

    Example: ``fail("wrong", got=preview(flat_numbers(value)))``.
    """
    if numbers is None:
        return "(not numbers)"
    numbers = list(numbers)
    shown = ", ".join(f"{n:.4g}" for n in numbers[:6])
    return f"[{shown}{', ...' if len(numbers) > 6 else ''}]"


def describe_value(value: Any) -> str:
    """Name what a submission returned, for hints like 'expected a tensor, got ...'.

    Example: ``fail("fit_not_triple", got=describe_value(value))`` says, for
    instance, "a tuple of 2 items" or "None".
    """
    if isinstance(value, TensorValue):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, Opaque):
        return f"a {value.type}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__} ({value!r})"[:120]
