"""Hidden checks of exercise 01: leaf tensors and the autograd graph."""

from grader.check import (
    backward,
    expect,
    expect_close,
    fail,
    points,
    random_values,
    tensor,
)


@points(2)
def test_make_leaf_accepts_ints(submission, rng):
    """make_leaf turns integers into a float tensor that autograd tracks"""
    values = [rng.randint(-9, 9) for _ in range(rng.randint(2, 6))]
    t = submission.call("make_leaf", values).tensor()
    expect(t.is_floating, "make_leaf_not_float", dtype=t.dtype)
    expect_close(t, values, "wrong_values", function="make_leaf")
    expect(
        t.requires_grad and t.is_leaf,
        "make_leaf_not_leaf_or_tracked",
        requires_grad=t.requires_grad,
        is_leaf=t.is_leaf,
    )


@points(1)
def test_make_leaf_requires_grad(submission, rng):
    """make_leaf's tensor requires grad"""
    t = submission.call("make_leaf", random_values(rng, 4)).tensor()
    expect(t.requires_grad, "make_leaf_no_requires_grad")


@points(1)
def test_make_leaf_is_leaf(submission, rng):
    """make_leaf's tensor is a 1-D leaf of the graph"""
    values = random_values(rng, 5)
    t = submission.call("make_leaf", values).tensor()
    expect(len(t.shape) == 1, "make_leaf_not_1d", shape=t.shape)
    expect(t.is_leaf, "make_leaf_not_leaf", grad_fn=t.grad_fn)
    expect_close(t, values, "wrong_values", function="make_leaf")


@points(2)
def test_square_and_sum_values(submission, rng):
    """square_and_sum returns y = x ** 2 and z = y.sum()"""
    values = random_values(rng, 4)
    result = submission.call("square_and_sum", tensor(values, requires_grad=True))
    y, z = result.pair()
    y = result.tensor(y, "y")
    z = result.tensor(z, "z")
    expect_close(y, [v * v for v in values], "square_and_sum_y", got_shape=y.shape)
    expect(z.shape == [], "square_and_sum_z_not_scalar", shape=z.shape)
    expect_close(z, sum(v * v for v in values), "square_and_sum_z")


@points(2)
def test_square_and_sum_backward(submission, rng):
    """y and z are recorded in the graph: z.backward() leaves 2 * x in x.grad"""
    values = random_values(rng, 4)
    result = submission.call(
        "square_and_sum", tensor(values, requires_grad=True), then=[backward(1)]
    )
    y, z = result.pair()
    y = result.tensor(y, "y")
    z = result.tensor(z, "z")
    if y.grad_fn is None or z.grad_fn is None:
        fail("square_and_sum_not_in_graph")
    result.step_ok(0)
    x = result.args[0]
    if x.grad is None:
        fail("square_and_sum_no_grad")
    expect_close(x.grad, [2 * v for v in values], "square_and_sum_grad")


@points(1)
def test_leaf_flags_graph(submission, rng):
    """leaf_flags tells the leaf x from the computed y and z"""
    values = random_values(rng, 3)
    x = tensor(values, requires_grad=True)
    y = tensor(values, requires_grad=True, ops=["square"])
    z = tensor(values, requires_grad=True, ops=["square", "sum"])
    flags = submission.call("leaf_flags", [x, y, z]).returned()
    expect(flags == [True, False, False], "leaf_flags_graph", got=flags)


@points(1)
def test_leaf_flags_without_grad(submission, rng):
    """tensors that do not require grad, and detached ones, are leaves too"""
    values = random_values(rng, 3)
    plain = tensor(values)
    detached = tensor(values, requires_grad=True, ops=["square", "detach"])
    x = tensor(values, requires_grad=True)
    flags = submission.call("leaf_flags", [plain, detached, x]).returned()
    expect(flags == [True, True, True], "leaf_flags_no_grad", got=flags)
