"""Hidden checks of exercise 04: switching gradient tracking off."""

import re

from grader.check import (
    all_close,
    describe_value,
    expect,
    expect_close,
    fail,
    fail_if_caused,
    fail_if_inference,
    flat_numbers,
    grad_mode_probe,
    points,
    preview,
    raising,
    random_function,
    random_values,
    tensor,
)

# Names under which torch reports a squaring (x ** 2, x * x, torch.square, x.pow(2) ...).
_SQUARING = {
    "pow",
    "__pow__",
    "__rpow__",
    "pow_",
    "__ipow__",
    "float_power",
    "square",
    "square_",
    "mul",
    "__mul__",
    "__rmul__",
    "mul_",
    "__imul__",
    "multiply",
}
_NON_LEAF_FLAG = re.compile(r"only change requires_grad flags of leaf variables", re.I)


def _check_square(submission, rng, function, tracked_hint):
    values = random_values(rng, rng.randint(2, 5))
    result = submission.call(function, tensor(values, requires_grad=True))
    if result.error is not None and _NON_LEAF_FLAG.search(str(result.error.get("message", ""))):
        fail("requires_grad_non_leaf", function=function, line=result.error.get("line") or "?")
    y = result.tensor()
    expect_close(y, [v * v for v in values], "wrong_values", function=function)
    # Right numbers and no grad, but torch.inference_mode() is not torch.no_grad().
    fail_if_inference(y, function)
    expect(not y.requires_grad, tracked_hint, grad_fn=y.grad_fn)
    x = result.args[0]
    expect(x.requires_grad, "x_requires_grad_off", function=function)
    expect(x.is_leaf and x.grad_fn is None, "x_not_leaf", function=function, grad_fn=x.grad_fn)
    if not all_close(x.data, values):
        # Changed in place, the version counter says how (x.detach().pow_(2) shares x).
        fail_if_caused(result, replay=False)
        fail("x_values_changed", function=function, got=preview(x.data), want=preview(values))
    expect(x.grad is None, "x_grad_filled", function=function)


@points(1)
def test_square_no_grad_result(submission, rng):
    """square_no_grad returns x ** 2 that does not require grad, and leaves x as it was"""
    _check_square(submission, rng, "square_no_grad", "square_no_grad_tracked")


@points(1)
def test_square_decorated_result(submission, rng):
    """square_decorated returns x ** 2 that does not require grad, and leaves x as it was"""
    _check_square(submission, rng, "square_decorated", "square_decorated_tracked")


@points(2)
def test_square_runs_without_grad(submission, rng):
    """in both functions the squaring itself runs with grad mode off (not detached)"""
    for function in ("square_no_grad", "square_decorated"):
        values = random_values(rng, 3)
        result = submission.call(function, tensor(values, requires_grad=True), trace=True)
        result.tensor()
        squarings = [enabled for name, enabled in result.ops if name in _SQUARING]
        if not squarings:
            fail("square_not_seen", function=function)
        if any(squarings):
            if any(name == "detach" for name, _ in result.ops):
                fail("square_detached", function=function)
            fail("square_tracked", function=function)


@points(1)
def test_call_without_grad_result(submission, rng):
    """call_without_grad passes every argument to f and returns f's result, computed without grad"""
    a, b = random_values(rng, 2)
    scale = round(rng.uniform(0.5, 3), 3)
    items = random_values(rng, 3)
    result = submission.call(
        "call_without_grad", grad_mode_probe(), a, items, scale=scale, label="check"
    )
    seen = result.returned()
    if not isinstance(seen, dict):
        fail("call_without_grad_no_result", got=describe_value(seen))
    expect(seen.get("grad_enabled") is False, "call_without_grad_tracked")
    expect(
        seen.get("args") == [a, items],
        "call_without_grad_args",
        got=str(seen.get("args"))[:120],
        want=str([a, items]),
    )
    expect(
        seen.get("kwargs") == {"scale": scale, "label": "check"},
        "call_without_grad_kwargs",
        got=str(seen.get("kwargs"))[:120],
    )
    expect(result.grad_enabled_after, "call_without_grad_left_off")

    f = random_function(rng)
    values = random_values(rng, 4)
    result = submission.call("call_without_grad", f.spec(), tensor(values, requires_grad=True))
    y = result.tensor()
    expect_close(y, [f.at(v).value for v in values], "call_without_grad_values", f=f.describe())
    fail_if_inference(y, "call_without_grad")
    expect(not y.requires_grad, "call_without_grad_result_tracked")


@points(1)
def test_call_without_grad_restores_previous_mode(submission, rng):
    """call_without_grad restores the grad mode the caller had, off or on"""
    a = random_values(rng, 1)[0]
    result = submission.call("call_without_grad", grad_mode_probe(), a, grad_enabled=False)
    seen = result.returned()
    expect(
        isinstance(seen, dict) and seen.get("grad_enabled") is False, "call_without_grad_tracked"
    )
    if result.grad_enabled_after:
        # A set_grad_enabled(False) object made at import restores import time's mode.
        fail_if_caused(result, replay=False, grad_mode=True)
        fail("call_without_grad_turns_on")
    result = submission.call("call_without_grad", grad_mode_probe(), a, grad_enabled=True)
    result.returned()
    expect(result.grad_enabled_after, "call_without_grad_left_off")


@points(1)
def test_call_without_grad_restores_on_error(submission, rng):
    """when f raises, the error reaches the caller and grad mode is restored"""
    message = f"raised on purpose by the check ({rng.randint(1000, 9999)})"
    result = submission.call("call_without_grad", raising(message))
    error = result.error
    if error is None:
        fail("call_without_grad_swallows", got=describe_value(result.value))
    if error.get("type") == "NotImplementedError" or error.get("kind") != "exception":
        result.returned()  # the stub, or a crash of the student's own: its usual hint
    if error.get("type") != "ValueError" or message not in str(error.get("message", "")):
        fail(
            "call_without_grad_changes_error",
            type=error.get("type", "?"),
            message=str(error.get("message", ""))[:200],
        )
    expect(result.grad_enabled_after, "call_without_grad_not_restored_on_error")


def _sgd_call(submission, rng):
    n = rng.randint(2, 5)
    values, grad = random_values(rng, n), random_values(rng, n)
    lr = round(rng.uniform(0.05, 0.5), 3)
    result = submission.call("sgd_step_", tensor(values, requires_grad=True, grad=grad), lr)
    return result, values, grad, lr


@points(2)
def test_sgd_step_updates_in_place(submission, rng):
    """sgd_step_ updates x in place by x -= lr * x.grad; x stays a leaf that requires grad"""
    result, values, grad, lr = _sgd_call(submission, rng)
    returned = result.returned()
    x = result.args[0]
    want = [v - lr * g for v, g in zip(values, grad, strict=True)]
    expect(x.id == result.arg_ids[0], "sgd_step_not_in_place")
    if all_close(x.data, values):
        fail("sgd_step_not_in_place")
    expect_close(x, want, "sgd_step_wrong", lr=lr)
    expect(x.is_leaf and x.grad_fn is None, "sgd_step_not_leaf", grad_fn=x.grad_fn)
    expect(x.requires_grad, "sgd_step_no_requires_grad")
    expect(returned is None, "sgd_step_returns", got=describe_value(returned))


@points(1)
def test_sgd_step_keeps_grad(submission, rng):
    """sgd_step_ leaves x.grad as it was: the same tensor, the same values"""
    result, _, grad, _ = _sgd_call(submission, rng)
    result.returned()
    x = result.args[0]
    if x.grad is None:
        fail("sgd_step_grad_none")
    got = flat_numbers(x.grad)
    if not all_close(got, grad):
        if got is not None and all(g == 0 for g in got):
            fail("sgd_step_grad_zeroed")
        fail_if_caused(result, replay=False, may_change=[0])
        fail("sgd_step_grad_changed", got=preview(got or []), want=preview(grad))
    expect(x.grad.id == result.arg_grad_ids[0], "sgd_step_grad_replaced")
