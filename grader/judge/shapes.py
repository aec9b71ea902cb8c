"""Recognise the shape of a wrong answer: what a known mistake does to the numbers.

A check that finds ``got`` where it wanted ``want`` asks here whether a
mistake explains the difference: gradients accumulated over k backward()
calls give exactly k times the answer, a mean where a sum was meant gives
1/n of it, gradient ascent the opposite sign, a history recorded after the
update is the right sequence shifted by one step. Each recogniser returns a
``Shape`` (a hint id of ``templates/locale/*/common.toml`` and its
parameters) or None, and fires only when the shape explains every number and
the plain values differ: an all-zero ``want`` (where k * want == want) or
n == 1 (where want / n == want) never fires.

Plain numbers in, plain data out: the comparison helpers of ``grader.check``
call this, and unit tests drive it without a submission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Shape", "explain", "explain_swap", "explain_steps", "MAX_FACTOR"]

MAX_FACTOR = 20  # more backward() calls than this is not a slip, it is a loop
Close = Callable[[float, float], bool]


@dataclass(frozen=True)
class Shape:
    """A recognised mistake: the hint that names it and the numbers that fill it."""

    hint: str
    params: dict[str, Any] = field(default_factory=dict)


def _all(close: Close, got: Sequence[float], want: Sequence[float]) -> bool:
    return len(got) == len(want) and all(close(g, w) for g, w in zip(got, want, strict=True))


def _informative(close: Close, want: Sequence[float]) -> bool:
    # Some number that scaling or negating would change: k * 0 == -0 == 0.
    return any(not close(2 * w, w) for w in want)


def _ratio(close: Close, got: Sequence[float], want: Sequence[float]) -> float | None:
    """The ratio got / want read off the largest expected number."""
    big = max(range(len(want)), key=lambda i: abs(want[i]))
    return got[big] / want[big] if not close(2 * want[big], want[big]) else None


def explain(
    got: Sequence[float],
    want: Sequence[float],
    close: Close,
    *,
    mean_of: int | None = None,
    sum_of: int | None = None,
    example: Sequence[float] | None = None,
    seen: Sequence[tuple[Sequence[float], Sequence[float]]] = (),
) -> Shape | None:
    """Name the mistake that turns ``want`` into ``got``; None when no shape fits.

    ``mean_of=n``: ``want`` is a mean over n numbers (n times it is a sum).
    ``sum_of=n``: ``want`` is a sum over n numbers (1/n of it is a mean).
    ``example``: the tutorial's worked answer, which a submission may return
    whatever its input. ``seen``: (got, want) of earlier calls of the same
    function with other arguments at the same place in the result.
    """
    got, want = list(got), list(want)
    if len(got) != len(want) or not want or _all(close, got, want):
        return None
    if _informative(close, want):
        if _all(close, got, [-w for w in want]):
            return Shape("shape_opposite_sign")
        ratio = _ratio(close, got, want)
        if ratio is not None and ratio > 0:
            k, inverse = round(ratio), round(1 / ratio)
            if 2 <= k <= MAX_FACTOR and _all(close, got, [k * w for w in want]):
                if mean_of == k:
                    return Shape("shape_sum_not_mean", {"n": k})
                return Shape("shape_multiple", {"factor": k})
            mean = sum_of is not None and sum_of >= 2 and inverse == sum_of
            if mean and _all(close, got, [w / inverse for w in want]):
                return Shape("shape_mean_not_sum", {"n": inverse})
    if example is not None and not _all(close, want, example) and _all(close, got, example):
        return Shape("shape_example_answer")
    for before_got, before_want in seen:
        # The right answer moved with the input and this one did not.
        if _all(close, got, before_got) and not _all(close, want, before_want):
            return Shape("shape_ignores_input")
    return None


def explain_swap(
    got: Sequence[Sequence[float]], want: Sequence[Sequence[float]], close: Close
) -> tuple[int, int] | None:
    """Return (i, j) if swapping outputs i and j of ``got`` makes every output right."""
    if len(got) != len(want) or all(_all(close, g, w) for g, w in zip(got, want, strict=True)):
        return None
    for i in range(len(got)):
        for j in range(i + 1, len(got)):
            swapped = list(got)
            swapped[i], swapped[j] = got[j], got[i]
            # Two equal outputs swap into themselves: no evidence of a swap.
            if not _all(close, want[i], want[j]) and all(
                _all(close, g, w) for g, w in zip(swapped, want, strict=True)
            ):
                return i, j
    return None


def explain_steps(
    got: Sequence[Sequence[float]], want: Sequence[Sequence[float]], close: Close
) -> Shape | None:
    """Name a sequence (history, losses) that is the expected one shifted by one step.

    ``want`` holds one more step than the task asks for (the step after the
    last), so that a history recorded after each update can be recognised.
    """
    asked = len(want) - 1
    if asked < 2 or not got:
        return None

    def same(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> bool:
        return len(a) == len(b) and all(_all(close, x, y) for x, y in zip(a, b, strict=True))

    if len(got) == asked and same(got, want[:asked]):
        return None
    moved = any(not _all(close, want[k], want[k + 1]) for k in range(asked))
    if len(got) == asked and moved and same(got, want[1:]):
        return Shape("shape_recorded_after_update")
    if len(got) == asked + 1 and same(got, want):
        return Shape("shape_extra_step", {"length": len(got), "steps": asked})
    if len(got) == asked - 1 and same(got, want[: asked - 1]):
        return Shape("shape_missing_step", {"length": len(got), "steps": asked})
    return None
