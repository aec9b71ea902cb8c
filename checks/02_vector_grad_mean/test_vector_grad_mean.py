"""Hidden checks of exercise 02: the gradient of a scalar and of a mean."""

import math

from grader.check import close, expect, expect_close, fail, flat_numbers, points
from grader.testfunc import named_function, random_function

SIN = named_function("sin", {"op": "sin", "args": [{"var": 0}]})
EXP = named_function("exp", {"op": "exp", "args": [{"var": 0}]})
# x ** 3 - 4 * x, written as x * x ** 2 - 4 * x
CUBIC = named_function(
    "cubic",
    {
        "op": "sub",
        "args": [
            {"op": "mul", "args": [{"var": 0}, {"op": "square", "args": [{"var": 0}]}]},
            {"op": "mul", "args": [4.0, {"var": 0}]},
        ],
    },
)


def _floats(rng, n):
    return [round(rng.uniform(-3, 3), 3) for _ in range(n)]


def _all_close(got, want):
    return (
        got is not None
        and len(got) == len(want)
        and all(close(g, w) for g, w in zip(got, want, strict=True))
    )


def _grad_tensor(result):
    """The returned gradient as a tensor; None gets its own hint."""
    value = result.returned()
    if value is None:
        fail("grad_is_none", function=result.function)
    return result.tensor(value, "the gradient")


def _mean_grad_expected(f, values):
    n = len(values)
    return [f.at(v).d[0] / n for v in values]


def _judge_mean_grad(result, f, values):
    """Compare mean_grad's result with the gradient of f(x).mean(), naming known mistakes."""
    grad = _grad_tensor(result)
    got = flat_numbers(grad)
    want = _mean_grad_expected(f, values)
    if _all_close(got, want):
        return
    n = len(values)
    shown = f.describe()
    if f is not SIN and _all_close(got, [math.cos(v) / n for v in values]):
        fail("mean_grad_sin_formula", f=shown)
    if _all_close(got, [2 * v / n for v in values]):
        fail("mean_grad_ignores_f", f=shown)
    if _all_close(got, [w * n for w in want]):
        fail("mean_grad_sum", f=shown)
    expect_close(grad, want, "mean_grad_wrong", f=shown)


@points(2)
def test_scalar_square_grad_values(submission, rng):
    """scalar_square_grad(x0) is 2 * x0"""
    for x0 in [1.0, *_floats(rng, 3)]:
        result = submission.call("scalar_square_grad", x0)
        value = result.returned()
        if value is None:
            fail("grad_is_none", function="scalar_square_grad")
        got = flat_numbers(value)
        if got is not None and len(got) == 1 and close(got[0], x0) and not close(x0, 2 * x0):
            fail("scalar_grad_is_x", x0=x0, got=got[0])
        expect_close(value, 2 * x0, "scalar_grad_wrong", x0=x0)


@points(1)
def test_scalar_square_grad_is_0dim(submission, rng):
    """scalar_square_grad returns a 0-dim tensor"""
    x0 = _floats(rng, 1)[0]
    result = submission.call("scalar_square_grad", x0)
    value = result.returned()
    if value is None:
        fail("grad_is_none", function="scalar_square_grad")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        fail("scalar_grad_python_number")
    grad = result.tensor(value, "the gradient")
    expect(grad.shape == [], "scalar_grad_not_0dim", shape=grad.shape)


@points(2)
def test_mean_square_grad_values(submission, rng):
    """mean_square_grad is 2 * x / n, e.g. [2/3, 4/3, 2] for [1, 2, 3]"""
    for values in ([1.0, 2.0, 3.0], _floats(rng, rng.randint(2, 7))):
        n = len(values)
        result = submission.call("mean_square_grad", values)
        grad = _grad_tensor(result)
        got = flat_numbers(grad)
        want = [2 * v / n for v in values]
        if _all_close(got, [2 * v for v in values]):
            fail("mean_square_grad_sum", n=n, got=_show(got), want=_show(want))
        if _all_close(got, [v * v / n for v in values]) or _all_close(got, [v * v for v in values]):
            fail("mean_square_grad_values_not_grad")
        expect_close(grad, want, "mean_square_grad_wrong", got_shape=grad.shape)


@points(2)
def test_mean_grad_values(submission, rng):
    """mean_grad(torch.sin, x) is cos(x) / n for a vector x"""
    values = _floats(rng, rng.randint(3, 6))
    result = submission.call("mean_grad", SIN.spec(), values)
    _judge_mean_grad(result, SIN, values)


@points(2)
def test_mean_grad_any_function(submission, rng):
    """mean_grad differentiates functions it has never seen"""
    for f in (random_function(rng), EXP, CUBIC, random_function(rng)):
        values = _floats(rng, rng.randint(2, 6))
        result = submission.call("mean_grad", f.spec(), values)
        _judge_mean_grad(result, f, values)


@points(1)
def test_uses_autograd(submission, rng):
    """every gradient comes from autograd's backward pass"""
    x0 = _floats(rng, 1)[0]
    result = submission.call("scalar_square_grad", x0)
    _expect_autograd(result, result.backward_passes, [2 * x0])

    values = _floats(rng, 4)
    result = submission.call("mean_square_grad", values)
    _expect_autograd(result, result.backward_passes, [2 * v / len(values) for v in values])

    f = random_function(rng)
    values = _floats(rng, 4)
    result = submission.call("mean_grad", f.spec(), values)
    # Only a backward pass through f itself counts: the gradient must flow through it.
    _expect_autograd(result, result.tripwire_backwards, _mean_grad_expected(f, values), through=f)


def _expect_autograd(result, passes, want, through=None):
    """Fail unless autograd ran (``passes`` > 0), with a hint for what went wrong instead."""
    value = result.returned()
    if passes > 0:
        return
    if _all_close(flat_numbers(value), want):
        fail("uses_autograd", function=result.function)
    if through is not None and result.backward_passes > 0:
        fail("no_backward_through_f", function=result.function, f=through.describe())
    fail("no_backward", function=result.function)


def _show(numbers):
    shown = ", ".join(f"{n:.4g}" for n in numbers[:6])
    return f"[{shown}{', ...' if len(numbers) > 6 else ''}]"
