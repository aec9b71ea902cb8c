"""Hidden checks of exercise 02: the gradient of a scalar and of a mean."""

import math

from grader.check import (
    all_close,
    close,
    expect,
    expect_autograd,
    expect_close,
    fail,
    flat_numbers,
    named_function,
    points,
    preview,
    random_function,
    random_values,
)

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
    if all_close(got, want):
        return
    n = len(values)
    shown = f.describe()
    if f is not SIN and all_close(got, [math.cos(v) / n for v in values]):
        fail("mean_grad_sin_formula", f=shown)
    if all_close(got, [2 * v / n for v in values]):
        fail("mean_grad_ignores_f", f=shown)
    if all_close(got, [w * n for w in want]):
        fail("mean_grad_sum", f=shown, got=preview(got), want=preview(want))
    expect_close(grad, want, "mean_grad_wrong", f=shown)


@points(2)
def test_scalar_square_grad_values(submission, rng):
    """scalar_square_grad(x0) is 2 * x0"""
    for x0 in [1.0, *random_values(rng, 3)]:
        result = submission.call("scalar_square_grad", x0)
        value = result.returned()
        if value is None:
            fail("grad_is_none", function="scalar_square_grad")
        got = flat_numbers(value)
        if got is not None and len(got) == 1 and close(got[0], x0) and not close(x0, 2 * x0):
            fail("scalar_grad_is_x", x0=x0, got=got[0])
        # The tutorial's worked example: the gradient 2.0 at x0 = 1.0.
        expect_close(value, 2 * x0, "scalar_grad_wrong", x0=x0, example=[2.0])


@points(1)
def test_scalar_square_grad_is_0dim(submission, rng):
    """scalar_square_grad returns a 0-dim tensor"""
    x0 = random_values(rng, 1)[0]
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
    for values in ([1.0, 2.0, 3.0], random_values(rng, rng.randint(2, 7))):
        n = len(values)
        result = submission.call("mean_square_grad", values)
        grad = _grad_tensor(result)
        got = flat_numbers(grad)
        want = [2 * v / n for v in values]
        if all_close(got, [2 * v for v in values]):
            fail("mean_square_grad_sum", n=n, got=preview(got), want=preview(want))
        if all_close(got, [v * v / n for v in values]) or all_close(got, [v * v for v in values]):
            fail("mean_square_grad_values_not_grad")
        expect_close(grad, want, "mean_square_grad_wrong", got_shape=grad.shape)


@points(2)
def test_mean_grad_values(submission, rng):
    """mean_grad(torch.sin, x) is cos(x) / n for a vector x"""
    values = random_values(rng, rng.randint(3, 6))
    result = submission.call("mean_grad", SIN.spec(), values)
    _judge_mean_grad(result, SIN, values)


@points(2)
def test_mean_grad_any_function(submission, rng):
    """mean_grad differentiates functions it has never seen"""
    for f in (random_function(rng), EXP, CUBIC, random_function(rng)):
        values = random_values(rng, rng.randint(2, 6))
        result = submission.call("mean_grad", f.spec(), values)
        _judge_mean_grad(result, f, values)


@points(1)
def test_uses_autograd(submission, rng):
    """every gradient comes from autograd's backward pass"""
    x0 = random_values(rng, 1)[0]
    result = submission.call("scalar_square_grad", x0)
    expect_autograd(result, result.backward_passes, [2 * x0])

    values = random_values(rng, 4)
    result = submission.call("mean_square_grad", values)
    expect_autograd(result, result.backward_passes, [2 * v / len(values) for v in values])

    f = random_function(rng)
    values = random_values(rng, 4)
    result = submission.call("mean_grad", f.spec(), values)
    # Only a backward pass through f itself counts: the gradient must flow through it.
    expect_autograd(result, result.tripwire_backwards, _mean_grad_expected(f, values), through=f)
