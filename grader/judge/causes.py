"""Name why a value is wrong from the evidence of the student's run, not from its numbers alone.

``grader.judge.shapes`` recognises what a mistake does to the numbers (3 times the
answer, the opposite sign); this module recognises what the run itself shows
about a wrong value, from the metadata the child reports with every tensor
(dtype, storage, version counter, inference flag), the version counters of
the caller's tensors before the call, and, for a value already found wrong,
a replay of the call that records the computation's dtypes, stretching
broadcasts and integer tensors (``grader.child.evidence``). Each recogniser
returns a ``Cause`` (a hint id of ``templates/locale/*/common.toml`` and its
parameters) or None; the hint names the cause and the remedy for the code
the evidence shows.

Usable by every exercise: ``expect_close`` asks here before it reports plain
numbers; a check that compares numbers its own way calls ``fail_if_caused``
with the call's ``CallResult`` before its generic hint. Evidence never
passes a wrong value nor fails a right one: it only chooses the words. The
one verdict here is ``fail_if_inference``, for a task that asks for
``torch.no_grad()``: an inference tensor is another answer, not the same one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.judge.answers import ANSWERS, CallResult, TensorValue, preview
from grader.judge.hints import fail

__all__ = [
    "Cause",
    "explain_cause",
    "fail_if_caused",
    "fail_if_inference",
    "inference_made",
    "grad_mode_at_import",
    "changed_caller",
    "zeroed_after_reading",
    "shared_storage",
    "low_precision",
    "from_graph",
]

_LOW = ("float16", "bfloat16")
# How far a value computed in a lower precision may drift from the float64 answer
# and still be called drift (relative): a few rounding steps of that dtype's epsilon
# (2 ** -8 for bfloat16, 2 ** -11 for float16) in one result; more over a loop.
_DRIFT = {"bfloat16": 0.05, "float16": 0.01}
_LOOP_DRIFT = 0.25


@dataclass(frozen=True)
class Cause:
    """A recognised cause: the hint that names it and the parameters that fill it."""

    hint: str
    params: dict[str, Any] = field(default_factory=dict)


def tensors_in(value: Any, depth: int = 0) -> Iterator[TensorValue]:
    """Yield the tensors of a returned value (nested tuples, lists and dicts included)."""
    if isinstance(value, TensorValue):
        yield value
    elif depth < 4 and isinstance(value, (list, tuple)):
        for item in value[:1000]:
            yield from tensors_in(item, depth + 1)
    elif depth < 4 and isinstance(value, dict):
        for item in list(value.values())[:1000]:
            yield from tensors_in(item, depth + 1)


# -- recognisers, on plain data ------------------------------------------------------
def inference_made(value: Any) -> Cause | None:
    """A returned tensor made under ``torch.inference_mode()``."""
    if any(t.inference for t in tensors_in(value)):
        return Cause("cause_inference_mode")
    return None


def grad_mode_at_import() -> Cause | None:
    """A file that turns grad mode off when it is imported (``torch.set_grad_enabled(False)``
    at the top level, e.g. to make a context object once): such an object restores the
    mode of import time, not the caller's."""
    answers = ANSWERS.get()
    if answers is not None and not answers.grad_enabled_at_import:
        return Cause("cause_grad_mode_at_import")
    return None


def changed_caller(result: CallResult, may_change: Sequence[int] = ()) -> Cause | None:
    """A tensor argument of the caller (or its ``.grad``) changed in place by the call.

    ``may_change``: positions (from 0) of arguments the task updates in place
    (``sgd_step_``'s x), whose own values may change but whose ``.grad`` may not.
    """
    for k, (before, after) in enumerate(zip(result.arg_versions, result.args, strict=False)):
        if before is None or not isinstance(after, TensorValue) or after.inference:
            continue
        shared = any(
            t.storage == after.storage and t.storage != 0 for t in tensors_in(result.value)
        )
        if k not in may_change and after.version > before[0] >= 0:
            hint = "cause_changed_argument_shared" if shared else "cause_changed_argument"
            return Cause(hint, {"position": k + 1})
        grad = after.grad
        if grad is not None and before[1] >= 0 and grad.version > before[1]:
            return Cause("cause_changed_argument_grad", {"position": k + 1})
    return None


def zeroed_after_reading(value: Any, want: Sequence[float] | None) -> Cause | None:
    """A returned tensor of zeros that was written in place after it was made (``g = x.grad``
    then ``x.grad.zero_()``), where the answer is not zeros."""
    if want is None or all(w == 0 for w in want):
        return None
    for t in tensors_in(value):
        if t.version > 0 and t.data and all(v == 0 for v in t.data):
            return Cause("cause_zeroed_after_reading")
    return None


def shared_storage(value: Any) -> Cause | None:
    """Several returned tensors holding one memory, changed in place since they were taken."""
    groups: dict[int, list[TensorValue]] = {}
    for t in tensors_in(value):
        if t.storage != 0:
            groups.setdefault(t.storage, []).append(t)
    shared = max(groups.values(), key=len, default=[])
    if len(shared) >= 2 and any(t.version > 0 for t in shared):
        return Cause("cause_shared_storage", {"count": len(shared)})
    return None


def _drifted(got: Sequence[float] | None, want: Sequence[float] | None, rtol: float) -> bool:
    """Whether ``got`` is near ``want`` (within ``rtol``), as a rounding drift would leave it."""
    if got is None or want is None or len(got) != len(want) or not want:
        return got is None or want is None  # nothing to compare: let the dtype speak
    scale = max(abs(w) for w in want) or 1.0
    return all(
        abs(g - w) <= rtol * max(abs(w), 0.1 * scale) for g, w in zip(got, want, strict=True)
    )


def low_precision(
    value: Any, got: Sequence[float] | None, want: Sequence[float] | None
) -> Cause | None:
    """A returned tensor in float16/bfloat16 whose numbers drifted from the answer."""
    for t in tensors_in(value):
        if t.dtype in _LOW and _drifted(got, want, _DRIFT[t.dtype]):
            return Cause("cause_low_precision", {"dtype": t.dtype})
    return None


def from_graph(
    graph: dict[str, Any], got: Sequence[float] | None, want: Sequence[float] | None
) -> Cause | None:
    """Name a cause the replayed computation shows: a broadcast, a low precision, an integer."""
    for op, a, b in graph.get("broadcasts", []):
        return Cause("cause_broadcast", {"op": op, "a": _shape(a), "b": _shape(b)})
    low = [d for d in _LOW if d in graph.get("dtypes", [])]
    if low and _drifted(got, want, _LOOP_DRIFT):
        return Cause("cause_low_precision_graph", {"dtype": low[0]})
    if graph.get("integer_casts", 0) > 0:
        return Cause("cause_integer_cast")
    return None


def _shape(dims: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + (",)" if len(dims) == 1 else ")")


# -- the front door --------------------------------------------------------------------
def explain_cause(
    result: CallResult | None,
    value: Any = None,
    got: Sequence[float] | None = None,
    want: Sequence[float] | None = None,
    *,
    replay: bool = True,
    may_change: Sequence[int] = (),
    grad_mode: bool = False,
) -> Cause | None:
    """Name the cause of a wrong ``value`` (part of what ``result`` returned); None if unseen.

    ``got`` and ``want`` are the numbers compared (they gate the precision causes:
    a drift, not a different answer). The metadata of the reply is read first;
    only when it shows nothing is the call replayed for the graph's evidence
    (``replay=False`` never replays). An argument judged for itself (``x`` after
    an update) is not blamed for having changed. ``grad_mode=True``: what is wrong
    is the grad mode the call left, which a file's import may explain.
    """
    value = result.value if value is None and result is not None else value
    own = (
        result is not None
        and value is not None
        and any(value is a or (isinstance(a, TensorValue) and value is a.grad) for a in result.args)
    )
    cheap: list[Callable[[], Cause | None]] = [
        lambda: grad_mode_at_import() if grad_mode else None,
        lambda: inference_made(value),
        lambda: changed_caller(result, may_change) if result is not None and not own else None,
        lambda: zeroed_after_reading(value, want),
        lambda: shared_storage(value),
        lambda: low_precision(value, got, want),
    ]
    for recognise in cheap:
        cause = recognise()
        if cause is not None:
            return cause
    if result is None or not replay:
        return None
    answers = ANSWERS.get()
    if result.graph is None and answers is not None and answers.replay is not None:
        answers.replay(result)
    return from_graph(result.graph or {}, got, want)


def fail_if_caused(
    result: CallResult | None,
    value: Any = None,
    got: Sequence[float] | float | None = None,
    want: Sequence[float] | float | None = None,
    *,
    replay: bool = True,
    may_change: Sequence[int] = (),
    grad_mode: bool = False,
    **params: Any,
) -> None:
    """Fail with the cause's hint if the evidence names why ``value`` is wrong.

    Call it where a check has found a value wrong, before its generic hint;
    ``result`` may be None to look the call up by ``value`` (a returned tensor,
    list or tuple). Returns quietly when no cause is visible.

    Example: ``fail_if_caused(result, got=losses[0], want=first)`` before a check's
    own "the first loss is wrong" hint, so a broadcast or a bfloat16 parameter is
    named instead of the numbers alone.
    """
    if result is None:
        answers = ANSWERS.get()
        result = answers.result_of(value) if answers is not None else None
    got_, want_ = _listed(got), _listed(want)
    cause = explain_cause(
        result, value, got_, want_, replay=replay, may_change=may_change, grad_mode=grad_mode
    )
    if cause is not None:
        shown = {k: preview(v) for k, v in (("got", got_), ("want", want_)) if v is not None}
        function = {"function": result.function} if result is not None else {}
        fail(cause.hint, **{**function, **shown, **params, **cause.params})


def fail_if_inference(value: Any, function: str) -> None:
    """Fail with ``cause_inference_mode`` if ``value`` holds a tensor made under inference_mode.

    For a task that asks for ``torch.no_grad()``: an inference tensor has the
    right numbers but cannot be used by autograd later (not even saved for a
    backward), so it is not the same answer.

    Example: ``fail_if_inference(submission.call("square_no_grad", x).value, "square_no_grad")``.
    """
    cause = inference_made(value)
    if cause is not None:
        fail(cause.hint, function=function)


def _listed(numbers: Sequence[float] | float | None) -> list[float] | None:
    if numbers is None:
        return None
    if isinstance(numbers, (int, float)):
        return [float(numbers)]
    return [float(n) for n in numbers]
