"""What a hidden check sees: calls into the submission as plain data, and verdicts.

Checks are ordinary pytest tests in ``checks/NN_name/``. They receive the
``submission`` fixture (a ``Submission``, ``grader.judge.submission``), call the
student's functions through it and judge the plain data that comes back
(``grader.judge.answers``), here in the trusted process. A failed check raises
``CheckFailed`` with a hint id from the catalogs in ``templates/locale``;
its parameters fill the hint's blanks (``grader.judge.hints``).

Comparisons are plain Python arithmetic in this process, which the
submission cannot patch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from grader.child import wire
from grader.judge.answers import (
    ANSWERS,
    CallResult,
    Opaque,
    TensorValue,
    close,
    describe_value,
    flat_numbers,
    preview,
)
from grader.judge.causes import fail_if_caused, fail_if_inference
from grader.judge.hints import CheckFailed, expect, fail, hint
from grader.judge.shapes import explain, explain_steps, explain_swap
from grader.judge.submission import Submission
from grader.judge.testfunc import TestFunction, named_function, random_function
from grader.render.plots import plot, side_by_side

__all__ = [
    "CheckFailed",
    "fail",
    "expect",
    "hint",
    "points",
    "close",
    "expect_close",
    "expect_close_together",
    "fail_if_shaped",
    "fail_if_shifted",
    "fail_if_caused",
    "fail_if_inference",
    "TensorValue",
    "Opaque",
    "CallResult",
    "Submission",
    "describe_value",
    "flat_numbers",
    "tensor",
    "grad_mode_probe",
    "raising",
    "backward",
    "all_close",
    "as_number",
    "random_values",
    "preview",
    "expect_autograd",
    # Unseen functions and plots: one front door for what a check imports.
    "random_function",
    "named_function",
    "TestFunction",
    "plot",
    "side_by_side",
]


def points(n: float) -> pytest.MarkDecorator:
    """Give a check its points (a check without the mark is worth 1).

    Example: ``@points(2)`` above ``def test_values(submission, rng):``; a
    parametrized check is worth that per parameter.
    """
    return pytest.mark.points(n)


# -- comparisons, in this process ------------------------------------------
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
    A wrong value whose cause the run's evidence shows fails with that cause's
    hint (see ``fail_if_caused``); else one whose shape names a mistake fails
    with that shape's hint (see ``fail_if_shaped``), unless ``shapes=False``.

    Example: ``expect_close(got, [2 * v for v in values], "grad_wrong", sum_of=len(values))``.
    """
    want = _numbers(expected)
    got = flat_numbers(actual)
    if got is None or not all_close(got, want, rtol, atol):
        fail_if_caused(None, actual, got, want, **params)
        if shapes:
            fail_if_shaped(
                actual, want, rtol, atol, mean_of=mean_of, sum_of=sum_of, example=example, **params
            )
        fail(hint, got=preview(got), want=preview(want), **params)
    answers = ANSWERS.get()
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

    Shapes (``grader.judge.shapes``): k times the answer (gradients accumulated over
    k backward() calls), its opposite (gradient ascent), n times it with
    ``mean_of=n`` or 1/n of it with ``sum_of=n`` (sum against mean), the
    worked ``example``'s answer, or what the same function returned for other
    inputs. Returns quietly when no shape fits: the check goes on judging.

    Example: ``fail_if_shaped(first_step, want_step)`` before the check's own
    comparison of a descent's first step.
    """
    want = _numbers(expected)
    got = flat_numbers(actual)
    if got is None:
        return
    answers = ANSWERS.get()
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
        shown = {"got": preview(got), "want": preview(want)}
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

    Example: ``expect_close_together([("a", a, 2.0), ("b", b, 1.0)], "fit_params_wrong")``.
    """
    got = [flat_numbers(actual) for _, actual, _ in outputs]
    want = [_numbers(e) for _, _, e in outputs]
    if all(g is not None for g in got):
        pair = explain_swap([g or [] for g in got], want, lambda g, w: close(g, w, rtol, atol))
        if pair is not None:
            i, j = pair
            shown = {"got": preview(got[i]), "want": preview(want[i])}
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

    Example: ``fail_if_shifted(losses, reference_losses(epochs + 1))``.
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
    """Say whether two lists of numbers have the same length and agree element-wise.

    Example: ``if all_close(flat_numbers(got), [2 * v / n for v in values]): fail(...)``
    names a mistake before the general comparison.
    """
    return (
        got is not None
        and len(got) == len(want)
        and all(close(g, w, rtol, atol) for g, w in zip(got, want, strict=True))
    )


def as_number(value: Any) -> float | None:
    """Read a Python number or a one-element tensor/list as a float; None for anything else.

    Example: ``a = as_number(value[0])`` accepts ``2.0``, ``tensor(2.)`` and ``[2.0]``.
    """
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
    """Draw ``n`` floats in [low, high], rounded to 3 decimals so hints stay readable.

    Example: ``values = random_values(rng, 4)`` (``rng`` is the seeded fixture).
    """
    return [round(rng.uniform(low, high), 3) for _ in range(n)]


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

    Example: ``submission.call("square_and_sum", tensor([1.0, 2.0], requires_grad=True))``.
    """
    return wire.tensor_argument(data, dtype, requires_grad, grad, ops)


def grad_mode_probe() -> dict[str, Any]:
    """A function argument that returns the grad mode it ran in and what it was given.

    Example: ``submission.call("call_without_grad", grad_mode_probe(), 3).returned()``.
    """
    return wire.function_argument(kind="grad_mode")


def raising(message: str) -> dict[str, Any]:
    """A function argument that raises ValueError(message).

    Example: ``submission.call("call_without_grad", raising("boom"))``, then
    check the grad mode the call left behind.
    """
    return wire.function_argument(kind="raises", message=message)


def backward(*path: int) -> dict[str, Any]:
    """A follow-up step: call ``.backward()`` on ``result[path...]`` after the call.

    Example: ``submission.call("square_and_sum", x, then=[backward(1)])`` calls
    ``z.backward()`` on the second item of ``(y, z)``.
    """
    return {"backward": list(path)}


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
    ``passes`` is the count to judge (``result.backward_passes``, or
    ``result.tripwire_backwards`` for an unseen function), ``want`` the right
    numbers, and ``instead`` maps torch-error hints to the exercise's own, as
    ``returned(instead)`` does, for this function's errors only. ``no_backward``
    and ``no_backward_through_f`` (``{function}``, ``{f}``) are the exercise's to
    word, in its catalogs; ``uses_autograd`` is shared.

    Example: ``expect_autograd(result, result.tripwire_backwards, want, through=f)``.
    """
    value = result.returned(instead)
    if passes > 0:
        return
    if all_close(flat_numbers(value), want):
        fail("uses_autograd", function=result.function)
    if through is not None and result.backward_passes > 0:
        fail("no_backward_through_f", function=result.function, f=through.describe())
    fail("no_backward", function=result.function)
