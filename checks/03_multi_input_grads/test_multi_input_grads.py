"""Hidden checks of exercise 03: gradients with respect to several inputs."""

import re

from grader.check import (
    all_close,
    describe_value,
    expect_autograd,
    expect_close,
    fail,
    flat_numbers,
    named_function,
    points,
    random_function,
    random_values,
)

# sin(a) * b: grads cos(a) * b and sin(a)
SIN_TIMES = named_function(
    "sin_times", {"op": "mul", "args": [{"op": "sin", "args": [{"var": 0}]}, {"var": 1}]}, arity=2
)
# a * b ** 2: grads b ** 2 and 2 * a * b
A_B_SQUARED = named_function(
    "a_b_squared",
    {"op": "mul", "args": [{"var": 0}, {"op": "square", "args": [{"var": 1}]}]},
    arity=2,
)

_FREED = re.compile(
    r"backward through the graph a second time|"
    r"saved tensors after they have already been freed",
    re.I,
)


def _returned(result):
    """The returned value; a second backward through a freed graph gets its own hint."""
    if result.error is not None and _FREED.search(str(result.error.get("message", ""))):
        fail("graph_freed", function=result.function, line=result.error.get("line") or "?")
    return result.returned()


def _grads(result):
    """The two returned gradients as tensors (a list is accepted here: test_returns_tuple
    judges the type), with a hint naming the input whose gradient is None."""
    value = _returned(result)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail("not_a_pair", function=result.function, got=describe_value(value))
    for name, grad in zip(("x1", "x2"), value, strict=True):
        if grad is None:
            fail("grad_is_none", function=result.function, input=name)
    return (
        result.tensor(value[0], "the gradient for x1"),
        result.tensor(value[1], "the gradient for x2"),
    )


def _judge_pair(result, want1, want2, function_hint, **params):
    g1, g2 = _grads(result)
    got1, got2 = flat_numbers(g1), flat_numbers(g2)
    if all_close(got1, want1) and all_close(got2, want2):
        return
    if all_close(got1, want2) and all_close(got2, want1):
        fail("grads_swapped", function=result.function)
    n = len(want1)
    if (
        n > 1
        and all_close(got1, [w / n for w in want1])
        and all_close(got2, [w / n for w in want2])
    ):
        fail("grads_mean_not_sum", function=result.function, n=n)
    expect_close(g1, want1, function_hint, input="x1", **params)
    expect_close(g2, want2, function_hint, input="x2", **params)


@points(2)
def test_scalar_pair_grads_values(submission, rng):
    """scalar_pair_grads gives (2 * x1, 7), e.g. (2, 7) at x1 = 1, x2 = 3"""
    for x1, x2 in [(1.0, 3.0), *zip(random_values(rng, 3), random_values(rng, 3), strict=True)]:
        result = submission.call("scalar_pair_grads", x1, x2)
        _judge_pair(result, [2 * x1], [7.0], "scalar_pair_grads_wrong", x1=x1, x2=x2)


@points(3)
def test_vector_pair_grads_values(submission, rng):
    """vector_pair_grads gives (2 * x1, [7, 7, ...]) for vectors"""
    n = rng.randint(3, 6)
    for x1, x2 in [([1.0, 2.0], [3.0, 4.0]), (random_values(rng, n), random_values(rng, n))]:
        result = submission.call("vector_pair_grads", x1, x2)
        _judge_pair(result, [2 * v for v in x1], [7.0] * len(x2), "vector_pair_grads_wrong")


@points(2)
def test_pair_grads_any_function(submission, rng):
    """pair_grads differentiates functions of two tensors it has never seen"""
    for f in (SIN_TIMES, random_function(rng, 2), A_B_SQUARED, random_function(rng, 2)):
        n = rng.randint(2, 5)
        x1, x2 = random_values(rng, n), random_values(rng, n)
        result = submission.call("pair_grads", f.spec(), x1, x2)
        g1, g2 = _grads(result)
        got1, got2 = flat_numbers(g1), flat_numbers(g2)
        if all_close(got1, [2 * v for v in x1]) and all_close(got2, [7.0] * n):
            fail("pair_grads_ignores_f", f=f.describe())
        partials = [f.at(a, b).d for a, b in zip(x1, x2, strict=True)]
        _judge_pair(
            result,
            [d[0] for d in partials],
            [d[1] for d in partials],
            "pair_grads_wrong",
            f=f.describe(),
        )


@points(1)
def test_returns_tuple(submission, rng):
    """each function returns a tuple of two gradients"""
    f = random_function(rng, 2)
    x1, x2 = random_values(rng, 3), random_values(rng, 3)
    for function, args in (
        ("scalar_pair_grads", (x1[0], x2[0])),
        ("vector_pair_grads", (x1, x2)),
        ("pair_grads", (f.spec(), x1, x2)),
    ):
        value = _returned(submission.call(function, *args))
        if isinstance(value, list):
            fail("returns_list", function=function)
        if not isinstance(value, tuple) or len(value) != 2:
            fail("not_a_pair", function=function, got=describe_value(value))


@points(2)
def test_uses_autograd(submission, rng):
    """every gradient comes from autograd's backward pass"""
    x1, x2 = random_values(rng, 4), random_values(rng, 4)
    result = submission.call("scalar_pair_grads", x1[0], x2[0])
    expect_autograd(result, result.backward_passes, [2 * x1[0], 7.0])

    result = submission.call("vector_pair_grads", x1, x2)
    expect_autograd(result, result.backward_passes, [2 * v for v in x1] + [7.0] * 4)

    f = random_function(rng, 2)
    result = submission.call("pair_grads", f.spec(), x1, x2)
    partials = [f.at(a, b).d for a, b in zip(x1, x2, strict=True)]
    # Only a backward pass through f itself counts: the gradient must flow through it.
    expect_autograd(
        result,
        result.tripwire_backwards,
        [d[0] for d in partials] + [d[1] for d in partials],
        through=f,
    )
