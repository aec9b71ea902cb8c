"""Hidden checks of exercise 06: minimising a function by gradient descent.

The reference descent runs here in plain Python (float64). Unseen functions
come from grader.judge.testfunc, whose dual numbers give the exact derivative, so
every step the submission took can be checked on its own: from the x it
reported, one step must land where ``x - lr * f'(x)`` says.
"""

import math

from grader.check import (
    TensorValue,
    as_number,
    describe_value,
    expect,
    fail,
    fail_if_caused,
    fail_if_shaped,
    fail_if_shifted,
    named_function,
    plot,
    points,
    random_function,
)

# Trajectories over tens of epochs: float32 solutions drift by ~1e-6 relative.
RTOL = 1e-3
ATOL = 1e-12
MAX_PLOT = 2000

SHIFTED_SQUARE = named_function(
    "(x - 2) ** 2", {"op": "square", "args": [{"op": "sub", "args": [{"var": 0}, 2.0]}]}
)
COSH = named_function(
    "cosh",
    {
        "op": "mul",
        "args": [
            0.5,
            {
                "op": "add",
                "args": [
                    {"op": "exp", "args": [{"var": 0}]},
                    {"op": "exp", "args": [{"op": "neg", "args": [{"var": 0}]}]},
                ],
            },
        ],
    },
)


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _near(got, want, rtol=RTOL, atol=ATOL):
    if not (math.isfinite(got) and math.isfinite(want)):
        return got == want
    return abs(got - want) <= atol + rtol * abs(want)


# -- references, in plain Python --------------------------------------------
def square_reference(x0, lr, epochs):
    """(x_final, history) of gradient descent on y = x ** 2."""
    x, history = float(x0), []
    for _ in range(epochs):
        history.append((x, x * x))
        x = x - lr * 2 * x
    return x, history


def square_not_zeroed(x0, lr, epochs):
    """The same descent when x.grad is never cleared: each step uses the running sum."""
    x, grad, history = float(x0), 0.0, []
    for _ in range(epochs):
        history.append((x, x * x))
        grad += 2 * x
        x = x - lr * grad
        if not math.isfinite(x):
            break
    return x, history


# A torch error that means the parameters were replaced (x = x - lr * x.grad)
# gets this exercise's hint.
_REBOUND = {"no_grad_fn": "descent_rebinds_x"}


# -- reading what came back ---------------------------------------------------
def descent_result(result):
    """(x_final, [(x, y), ...]) as floats, leniently (tensors allowed), or fail saying why."""
    value = result.returned(_REBOUND)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail("descent_not_pair", function=result.function, got=describe_value(value))
    x_final, history = value
    x = as_number(x_final)
    if x is None:
        fail("descent_x_final_not_number", function=result.function, got=describe_value(x_final))
    if isinstance(history, TensorValue) and len(history.shape) == 2 and history.shape[1] == 2:
        # A stacked tensor of points: readable, though test_returns_floats wants a list.
        return x, [(history.data[2 * k], history.data[2 * k + 1]) for k in range(history.shape[0])]
    if not isinstance(history, (list, tuple)):
        fail("descent_history_not_list", function=result.function, got=describe_value(history))
    points_ = []
    for k, entry in enumerate(history):
        pair = entry if isinstance(entry, (list, tuple)) else None
        if isinstance(entry, TensorValue) and len(entry.data) == 2:
            pair = entry.data
        numbers = [as_number(v) for v in pair] if pair is not None else []
        if len(numbers) != 2 or None in numbers:
            fail("descent_history_entry", function=result.function, k=k, got=describe_value(entry))
        points_.append((numbers[0], numbers[1]))
    _expect_not_aliased(result.function, history)
    return x, points_


def _expect_not_aliased(function, history):
    # history.append((x, y)) with the tensor x stores one object that keeps moving.
    ids = [
        entry[0].id
        for entry in history
        if isinstance(entry, (list, tuple)) and entry and isinstance(entry[0], TensorValue)
    ]
    if len(ids) > 1 and len(set(ids)) == 1:
        fail("history_same_tensor", function=function)


def plot_points(history):
    # Finite points only (results.json stays plain JSON), and no more than a plot can show.
    return [[x, y] for x, y in history if math.isfinite(x) and math.isfinite(y)][:MAX_PLOT]


def descent_plot(history, reference):
    """The parabola y = x ** 2 with the student's and the reference's iterates on it."""
    yours, ref = plot_points(history), plot_points(reference)
    reach = max([1.0] + [abs(x) for x, _ in yours + ref]) * 1.1
    grid = [-reach + 2 * reach * k / 200 for k in range(201)]
    return plot(
        title="descent_title",
        x_label="x",
        y_label="y",
        series={
            "y = x²": {"points": [[x, x * x] for x in grid], "draw": "curve"},
            "yours": yours,
            "reference": ref,
        },
    )


# -- minimize_square ------------------------------------------------------------
def _check_square_final(function, x, x0, lr, epochs, history=(), result=None):
    want, _ = square_reference(x0, lr, epochs)
    if _near(x, want):
        return
    params = {"function": function, "got": _fmt(x), "want": _fmt(want), "epochs": epochs}
    if not math.isfinite(x):
        fail("descent_diverged", **params)
    if len(history) >= 2 and _near(history[0][0], x0):
        # The first step names a step in the wrong direction (gradient ascent).
        fail_if_shaped(history[1][0] - x0, -lr * 2 * x0, 1e-4, 1e-5, **params)
    lost, _ = square_not_zeroed(x0, lr, epochs)
    if _near(x, lost):
        fail("descent_not_zeroed", **params)
    if abs(x - x0) <= 1e-9 * max(1.0, abs(x0)):
        fail("descent_x_never_moved", **params)
    # The x after some other number of epochs: a loop of the wrong length,
    # or x_final taken before the last update.
    x_k = float(x0)
    for k in range(1, epochs + 3):
        x_k -= lr * 2 * x_k
        if k != epochs and _near(x, x_k):
            fail("descent_wrong_epochs", ran=k, **params)
    # What the run shows (a float16 x, a cast to int) names why, if anything.
    fail_if_caused(result, got=x, want=want, function=function, epochs=epochs)
    fail("descent_final_wrong", **params)


@points(3)
def test_minimize_square_final(submission, rng, plots):
    """minimize_square() ends at 3 * 0.8 ** 50, and follows other settings too"""
    result = submission.call("minimize_square")
    x, history = descent_result(result)
    _, reference = square_reference(3.0, 0.1, 50)
    plots.append(descent_plot(history, reference))
    _check_square_final("minimize_square", x, 3.0, 0.1, 50, history, result)
    x0 = -2.0 if rng.random() < 0.5 else round(rng.uniform(-4, -1), 3)
    result = submission.call("minimize_square", x0, 0.05, 20)
    x, history = descent_result(result)
    _check_square_final("minimize_square", x, x0, 0.05, 20, result=result)


@points(2)
def test_minimize_square_history(submission, rng):
    """history[k] is (x_k, x_k ** 2) before epoch k's update, one entry per epoch"""
    x0 = round(rng.uniform(0.5, 5) * rng.choice((-1, 1)), 3)
    lr = round(rng.uniform(0.02, 0.3), 3)
    epochs = rng.randint(5, 30)
    result = submission.call("minimize_square", x0=x0, lr=lr, epochs=epochs)
    x, history = descent_result(result)
    _, want = square_reference(x0, lr, epochs)
    params = {"x0": x0, "lr": lr, "epochs": epochs}
    if len(history) != len(want):
        _, one_more = square_reference(x0, lr, epochs + 1)
        fail_if_shifted(history, one_more, RTOL, ATOL, **params)
        fail("history_length", length=len(history), **params)
    for k, ((hx, hy), (wx, wy)) in enumerate(zip(history, want, strict=True)):
        if _near(hx, wx) and _near(hy, wy):
            continue
        where = {"k": k, "got": f"({_fmt(hx)}, {_fmt(hy)})", "want": f"({_fmt(wx)}, {_fmt(wy)})"}
        next_x = wx - lr * 2 * wx
        if _near(hx, next_x) and _near(hy, wy):
            fail("history_after_update", **where, **params)
        fail_if_caused(result, got=[hx, hy], want=[wx, wy], k=k, **params)
        if _near(hx, wx):
            fail("history_y_wrong", **where, **params)
        fail("history_wrong", **where, **params)
    _check_square_final("minimize_square", x, x0, lr, epochs, result=result)


# -- gradient_descent -------------------------------------------------------------
def check_descent_of(f, x, history, x0, lr, epochs, result=None):
    """Judge each step of a descent on ``f`` against x - lr * f'(x), from the student's own x."""
    params = {"f": f.describe(), "x0": x0, "lr": lr, "epochs": epochs}
    if len(history) != epochs:
        fail("gd_length", length=len(history), **params)
    if not _near(history[0][0], x0, 1e-6, 1e-6):
        fail("gd_wrong_start", got=_fmt(history[0][0]), **params)
    points_ = [p[0] for p in history] + [x]
    for k, (hx, hy) in enumerate(history):
        if not (math.isfinite(hx) and abs(hx) < 100):
            # The unseen functions are tame on [-3, 3]; far outside, the descent ran away.
            fail("gd_diverged", k=k, x=_fmt(hx), **params)
        at = f.at(hx)
        if not _near(hy, at.value, 1e-4, 1e-5):
            # Recorded after the update: the y belongs to the previous x.
            prev = f.at(points_[k - 1]).value if k > 0 else None
            hint = (
                "gd_history_after_update"
                if prev is not None and _near(hy, prev, 1e-4, 1e-5)
                else "gd_y_wrong"
            )
            fail(hint, k=k, x=_fmt(hx), got=_fmt(hy), want=_fmt(at.value), **params)
        step_to = hx - lr * at.d[0]
        nxt = points_[k + 1]
        if not _near(nxt, step_to, 1e-4, 1e-5):
            where = {"k": k, "x": _fmt(hx), "got": _fmt(nxt), "want": _fmt(step_to)}
            if _near(nxt, hx - lr * 2 * hx, 1e-4, 1e-5):
                fail("gd_square_derivative", **where, **params)
            # The step itself: its opposite is gradient ascent.
            fail_if_shaped(nxt - hx, step_to - hx, 1e-4, 1e-5, **where, **params)
            fail_if_caused(result, got=nxt, want=step_to, k=k, x=_fmt(hx), **params)
            if k + 1 == len(history):
                fail("gd_final_wrong", **where, **params)
            fail("gd_step_wrong", **where, **params)


def _descend(submission, f, x0, lr, epochs):
    result = submission.call("gradient_descent", f.spec(), x0, lr, epochs)
    x, history = descent_result(result)
    check_descent_of(f, x, history, x0, lr, epochs, result)
    return result


@points(3)
def test_gradient_descent_any_function(submission, rng):
    """gradient_descent follows the gradient of functions it has never seen"""
    _descend(submission, SHIFTED_SQUARE, 5.0, 0.1, 20)
    _descend(submission, COSH, round(rng.uniform(-2, 2), 3), 0.1, rng.randint(10, 20))
    f = random_function(rng)
    _descend(
        submission,
        f,
        round(rng.uniform(-2, 2), 3),
        round(rng.uniform(0.05, 0.2), 3),
        rng.randint(10, 25),
    )


# -- types and autograd -------------------------------------------------------------
def _expect_floats(result):
    value = result.returned(_REBOUND)
    if not isinstance(value, tuple) or len(value) != 2:
        fail("descent_not_pair", function=result.function, got=describe_value(value))
    x_final, history = value
    if not isinstance(x_final, float):
        fail("x_final_not_float", function=result.function, got=describe_value(x_final))
    if not isinstance(history, list):
        fail("history_not_list", function=result.function, got=describe_value(history))
    for k, entry in enumerate(history):
        ok = (
            isinstance(entry, tuple)
            and len(entry) == 2
            and all(isinstance(v, float) for v in entry)
        )
        if not ok:
            _expect_not_aliased(result.function, history)
            fail(
                "history_entry_not_floats",
                function=result.function,
                k=k,
                got=describe_value(entry),
                items=", ".join(
                    describe_value(v)
                    for v in (entry if isinstance(entry, (list, tuple)) else [entry])[:2]
                ),
            )


@points(1)
def test_returns_floats(submission, rng):
    """x_final is a Python float and history a list of (float, float) tuples"""
    x0 = round(rng.uniform(1, 4), 3)
    _expect_floats(submission.call("minimize_square", x0, 0.1, 5))
    _expect_floats(
        submission.call(
            "gradient_descent", random_function(rng).spec(), round(rng.uniform(-2, 2), 3), 0.1, 5
        )
    )


@points(1)
def test_uses_autograd(submission, rng):
    """every epoch's gradient comes from a backward pass of autograd"""
    x0, lr, epochs = round(rng.uniform(1, 4), 3), 0.1, rng.randint(8, 15)
    result = submission.call("minimize_square", x0, lr, epochs)
    x, history = descent_result(result)
    if result.backward_passes < epochs:
        right = _near(x, square_reference(x0, lr, epochs)[0])
        hint = "uses_autograd" if right and result.backward_passes == 0 else "descent_autograd"
        fail(hint, function="minimize_square", passes=result.backward_passes, epochs=epochs)
    f = random_function(rng)
    x0 = round(rng.uniform(-2, 2), 3)
    result = submission.call("gradient_descent", f.spec(), x0, lr, epochs)
    descent_result(result)
    # The unseen f counts every gradient that flows back through it.
    expect(
        result.tripwire_backwards >= epochs,
        "descent_autograd",
        function="gradient_descent",
        passes=result.tripwire_backwards,
        epochs=epochs,
    )
