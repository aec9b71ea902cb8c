"""Hidden checks of exercise 07: fitting a line by gradient descent.

The reference fit runs here in plain Python (float64), with the gradients of
the mean squared error written out: dL/da = 2 * mean(e * x), dL/db =
2 * mean(e), where e = a * x + b - y. Variants of it (a gradient never
cleared, sum instead of mean, ...) name the student's mistake when the loss
curve matches one of them.
"""

import math

from grader.check import (
    TensorValue,
    as_number,
    describe_value,
    expect,
    expect_close_together,
    fail,
    fail_if_caused,
    fail_if_shifted,
    plot,
    points,
    side_by_side,
)

TUTORIAL_X = [1.0, 2.0, 3.0, 4.0, 5.0]
TUTORIAL_Y = [3.0, 5.0, 7.0, 9.0, 11.0]

# Loss curves over hundreds of epochs: float32 solutions drift by ~1e-5 relative.
RTOL = 1e-3
ATOL = 1e-6
MAX_PLOT = 2000


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _near(got, want, rtol=RTOL, atol=ATOL):
    if not (math.isfinite(got) and math.isfinite(want)):
        return got == want
    return abs(got - want) <= atol + rtol * abs(want)


# -- the reference and its mistaken variants, in plain Python --------------------
def reference_fit(
    xs, ys, lr, epochs, *, start=1.0, reduce="mean", zero=True, update_a=True, update_b=True
):
    """(a, b, losses) of gradient descent on the MSE; the keywords make known mistakes."""
    n = len(xs)
    scale = 1.0 if reduce == "mean" else float(n)
    a = b = float(start)
    acc_a = acc_b = 0.0
    losses = []
    for _ in range(epochs):
        errors = [a * x + b - y for x, y in zip(xs, ys, strict=True)]
        losses.append(scale * sum(e * e for e in errors) / n)
        grad_a = scale * 2 * sum(e * x for e, x in zip(errors, xs, strict=True)) / n
        grad_b = scale * 2 * sum(errors) / n
        if zero:
            acc_a, acc_b = grad_a, grad_b
        else:
            acc_a, acc_b = acc_a + grad_a, acc_b + grad_b
        if update_a:
            a -= lr * acc_a
        if update_b:
            b -= lr * acc_b
        if not (math.isfinite(a) and math.isfinite(b)) or abs(a) + abs(b) > 1e30:
            break  # a diverging variant: the finite beginning is enough to recognise it
    return a, b, losses


_VARIANTS = (
    ("fit_not_zeroed", {"zero": False}),
    ("fit_sum_not_mean", {"reduce": "sum"}),
    ("fit_b_not_updated", {"update_b": False}),
    ("fit_a_not_updated", {"update_a": False}),
    ("fit_starts_at_zero", {"start": 0.0}),
)


def diagnose(losses, xs, ys, lr, epochs, params):
    """Fail with the hint of the known mistake whose loss curve matches ``losses``."""
    k = min(len(losses), 30)
    _, _, ref = reference_fit(xs, ys, lr, k + 1)
    if _same_curve(losses[:k], ref[1:]):
        fail("fit_loss_after_update", **params)
    for hint, variant in _VARIANTS:
        _, _, other = reference_fit(xs, ys, lr, k, **variant)
        if _same_curve(losses[:k], other):
            fail(hint, **params)


def _same_curve(got, want):
    """Whether two loss curves agree wherever both are finite (at least two epochs)."""
    pairs = []
    for g, w in zip(got, want, strict=False):
        if not (math.isfinite(g) and math.isfinite(w)):
            break
        pairs.append((g, w))
    return len(pairs) >= 2 and all(_near(g, w) for g, w in pairs)


# A torch error that means the parameters were replaced (x = x - lr * x.grad)
# gets this exercise's hint.
_REBOUND = {"no_grad_fn": "fit_rebinds_params"}


# -- reading what came back ---------------------------------------------------------
def fit_result(result):
    """(a, b, losses) as floats, leniently (one-element tensors allowed), or fail saying why."""
    value = result.returned(_REBOUND)
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        fail("fit_not_triple", got=describe_value(value))
    a, b, losses = (as_number(value[0]), as_number(value[1]), value[2])
    if a is None or b is None:
        fail("fit_params_not_numbers", a=describe_value(value[0]), b=describe_value(value[1]))
    if isinstance(losses, TensorValue) and len(losses.shape) == 1:
        # A tensor of losses: readable, though test_returns_floats wants a list of floats.
        return a, b, list(losses.data)
    if not isinstance(losses, (list, tuple)):
        fail("fit_losses_not_list", got=describe_value(losses))
    numbers = [as_number(v) for v in losses]
    if None in numbers:
        k = numbers.index(None)
        fail("fit_loss_not_number", k=k, got=describe_value(losses[k]))
    return a, b, numbers


def _plottable(losses):
    """The finite beginning of a loss curve (a diverging fit overflows to inf, then nan)."""
    out = []
    for v in losses[:MAX_PLOT]:
        if not math.isfinite(v):
            break
        out.append(v)
    return out


def fit_plot(xs, ys, yours, reference):
    """The loss per epoch (log scale) beside the data and both fitted lines."""
    ends = [min(xs), max(xs)]

    def line(a, b):
        return {
            "points": [[x, a * x + b] for x in ends],
            "markers": False,
            "label": f"y = {a:.3g}·x + {b:.3g}",
        }

    fits = {"yours": yours, "reference": reference}
    return side_by_side(
        plot(
            title="loss_title",
            x_label="epoch",
            y_label="loss",
            log_y=True,
            series={k: _plottable(losses) for k, (_, _, losses) in fits.items()},
        ),
        plot(
            title="fit_title",
            x_label="x",
            y_label="y",
            series={
                "data": [[x, y] for x, y in zip(xs, ys, strict=True)],
                # A diverged fit has no line to draw.
                **{
                    k: line(a, b)
                    for k, (a, b, _) in fits.items()
                    if math.isfinite(a) and math.isfinite(b)
                },
            },
        ),
    )


def _check_curve(result, losses, want, xs, ys, lr, epochs, params):
    if len(losses) != epochs:
        _, _, one_more = reference_fit(xs, ys, lr, epochs + 1)
        fail_if_shifted(losses, one_more, RTOL, ATOL, **params)
        fail("fit_losses_length", length=len(losses), **params)
    if not _near(losses[0], want[0]):
        diagnose(losses, xs, ys, lr, epochs, params)
        fail_if_caused(result, got=losses[0], want=want[0], **params)
        fail("fit_first_loss", got=_fmt(losses[0]), want=_fmt(want[0]), **params)
    for k, (g, w) in enumerate(zip(losses, want, strict=True)):
        if not _near(g, w):
            diagnose(losses, xs, ys, lr, epochs, params)
            fail_if_caused(result, got=g, want=w, **params)
            fail("fit_loss_curve", k=k, got=_fmt(g), want=_fmt(w), **params)


def _check_params(result, a, b, want_a, want_b, tol, params):
    if abs(a - want_a) > tol or abs(b - want_b) > tol:
        # What the run shows (a broadcast, bfloat16 parameters) names why, if anything.
        fail_if_caused(result, got=[a, b], want=[want_a, want_b], **params)
    # Together, so that (b, a) in each other's places is named as a swap.
    expect_close_together(
        [("a", a, want_a), ("b", b, want_b)],
        "fit_params_wrong",
        rtol=0.0,
        atol=tol,
        a=_fmt(a),
        b=_fmt(b),
        want_a=_fmt(want_a),
        want_b=_fmt(want_b),
        **params,
    )


@points(3)
def test_fit_line_tutorial_data(submission, rng, plots):
    """with the defaults, fit_line finds a = 2, b = 1 on the tutorial's data"""
    # A cheap first call: fit_line's first call is made twice to look for state
    # carried between calls, and 5 epochs repeat faster than 1000 (judged in
    # test_returns_floats).
    submission.call("fit_line", TUTORIAL_X, TUTORIAL_Y, lr=0.05, epochs=5)
    result = submission.call("fit_line", TUTORIAL_X, TUTORIAL_Y)
    a, b, losses = fit_result(result)
    want_a, want_b, want = reference_fit(TUTORIAL_X, TUTORIAL_Y, 0.05, 1000)
    plots.append(fit_plot(TUTORIAL_X, TUTORIAL_Y, (a, b, losses), (want_a, want_b, want)))
    params = {"lr": 0.05, "epochs": 1000}
    if len(losses) != 1000:
        fail("fit_losses_length", length=len(losses), **params)
    # Before the first update a = b = 1: errors -1..-5, loss (1+4+9+16+25)/5 = 11.
    errors = [1.0 * x + 1.0 - y for x, y in zip(TUTORIAL_X, TUTORIAL_Y, strict=True)]
    first = sum(e * e for e in errors) / len(errors)
    if abs(a - want_a) > 1e-2 or abs(b - want_b) > 1e-2 or not _near(losses[0], first):
        diagnose(losses, TUTORIAL_X, TUTORIAL_Y, 0.05, 1000, params)
    if not _near(losses[0], first):
        fail_if_caused(result, got=losses[0], want=first, **params)
    expect(
        _near(losses[0], first), "fit_first_loss", got=_fmt(losses[0]), want=_fmt(first), **params
    )
    _check_params(result, a, b, want_a, want_b, 1e-2, params)


@points(3)
def test_fit_line_losses(submission, rng):
    """losses[k] is the loss before epoch k's update, matching the reference curve"""
    xs, ys, lr, epochs = TUTORIAL_X, TUTORIAL_Y, 0.05, 50
    result = submission.call("fit_line", xs, ys, lr=lr, epochs=epochs)
    a, b, losses = fit_result(result)
    want_a, want_b, want = reference_fit(xs, ys, lr, epochs)
    params = {"lr": lr, "epochs": epochs}
    _check_curve(result, losses, want, xs, ys, lr, epochs, params)
    _check_params(result, a, b, want_a, want_b, 1e-3, params)


@points(2)
def test_fit_line_random_data(submission, rng):
    """fit_line follows the reference on other data, learning rates and epoch counts"""
    n = rng.randint(6, 12)
    # x in [0, 2] keeps the MSE's curvature below 10, so lr <= 0.15 stays stable.
    xs = sorted(round(rng.uniform(0, 2), 3) for _ in range(n))
    slope, intercept = round(rng.uniform(-3, 3), 2), round(rng.uniform(-2, 2), 2)
    ys = [round(slope * x + intercept + rng.gauss(0, 0.2), 3) for x in xs]
    lr = round(rng.uniform(0.03, 0.15), 3)
    epochs = rng.randint(100, 300)
    result = submission.call("fit_line", xs, ys, lr, epochs)
    a, b, losses = fit_result(result)
    want_a, want_b, want = reference_fit(xs, ys, lr, epochs)
    params = {"lr": lr, "epochs": epochs}
    _check_curve(result, losses, want, xs, ys, lr, epochs, params)
    _check_params(result, a, b, want_a, want_b, 1e-3, params)


@points(1)
def test_returns_floats(submission, rng):
    """a and b are Python floats and losses a list of Python floats"""
    result = submission.call("fit_line", TUTORIAL_X, TUTORIAL_Y, lr=0.05, epochs=5)
    value = result.returned(_REBOUND)
    if not isinstance(value, tuple) or len(value) != 3:
        fail("fit_not_triple", got=describe_value(value))
    for name, v in (("a", value[0]), ("b", value[1])):
        if not isinstance(v, float):
            fail("fit_param_not_float", name=name, got=describe_value(v))
    losses = value[2]
    if not isinstance(losses, list):
        fail("fit_losses_not_list", got=describe_value(losses))
    for k, v in enumerate(losses):
        if not isinstance(v, float):
            fail("fit_loss_not_float", k=k, got=describe_value(v))


@points(1)
def test_uses_autograd(submission, rng):
    """every epoch's gradients come from one backward pass of autograd"""
    epochs = rng.randint(10, 25)
    result = submission.call("fit_line", TUTORIAL_X, TUTORIAL_Y, lr=0.05, epochs=epochs)
    a, b, losses = fit_result(result)
    if result.backward_passes == 0:
        want_a, want_b, _ = reference_fit(TUTORIAL_X, TUTORIAL_Y, 0.05, epochs)
        if _near(a, want_a) and _near(b, want_b):
            fail("uses_autograd", function="fit_line")
    expect(
        result.backward_passes == epochs,
        "fit_backward_count",
        passes=result.backward_passes,
        epochs=epochs,
    )
