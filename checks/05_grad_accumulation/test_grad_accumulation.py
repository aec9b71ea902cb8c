"""Hidden checks of exercise 05: gradients accumulate until you zero them.

Every expected gradient is computed here in plain Python: one backward of
``z = (x ** 2 + 2 * x + 7).mean()`` leaves ``(2 * x + 2) / n`` in ``x.grad``.
"""

from grader.check import (
    all_close,
    describe_value,
    expect,
    fail,
    fail_if_caused,
    flat_numbers,
    points,
    preview,
    tensor,
)

TUTORIAL = [1.0, 2.0, 5.3]


def _values(rng, low=2, high=6):
    # Keep every element away from -1, where the gradient 2x + 2 is zero and a
    # wrong factor would go unseen.
    n = rng.randint(low, high)
    out = []
    while len(out) < n:
        v = round(rng.uniform(-4, 4), 3)
        if abs(v + 1) > 0.3:
            out.append(v)
    return out


def _one_step(values):
    n = len(values)
    return [(2 * v + 2) / n for v in values]


def _factor(got, want):
    """The common ratio got / want if there is one (e.g. 3 for three accumulated steps)."""
    if got is None or len(got) != len(want):
        return None
    ratios = [g / w for g, w in zip(got, want, strict=True) if abs(w) > 1e-3]
    if not ratios:
        return None
    r = ratios[0]
    if all(abs(q - r) <= 1e-3 * max(1.0, abs(r)) for q in ratios):
        return r
    return None


def _check_accumulated(submission, values, steps):
    result = submission.call("accumulated_grad", values, steps)
    t = result.tensor()
    want = [steps * g for g in _one_step(values)]
    got = flat_numbers(t)
    if all_close(got, want):
        expect(len(t.shape) == 1, "accumulated_shape", shape=t.shape, n=len(values))
        return
    params = {"steps": steps, "got": preview(got), "want": preview(want)}
    if got is not None and len(got) != len(values):
        fail("accumulated_shape", shape=t.shape, n=len(values))
    r = _factor(got, want)
    if r is not None:
        if abs(r * steps - 1) < 1e-3:
            fail("accumulated_one_step", **params)
        if abs(r - len(values)) < 1e-3:
            fail("accumulated_sum_not_mean", n=len(values), **params)
        k = r * steps
        if abs(k - round(k)) < 1e-3 and round(k) > 0:
            fail("accumulated_wrong_count", count=round(k), **params)
    fail_if_caused(result, t, got, want, steps=steps)
    fail("accumulated_wrong", **params)


@points(3)
def test_accumulated_grad_values(submission, rng):
    """accumulated_grad adds up the gradients of several backward() calls"""
    _check_accumulated(submission, TUTORIAL, 3)
    for steps in (2, rng.randint(3, 5)):
        _check_accumulated(submission, _values(rng), steps)


def _grad_list(result, steps):
    """The returned list of gradients as tensors, or fail saying what came back."""
    value = result.returned()
    if not isinstance(value, (list, tuple)):
        fail("zeroed_not_list", got=describe_value(value))
    expect(len(value) == steps, "zeroed_wrong_length", steps=steps, length=len(value))
    return [result.tensor(g, f"entry {k} of the list") for k, g in enumerate(value)]


@points(2)
def test_zeroed_grads_values(submission, rng):
    """zeroed_grads records one step's gradient after every step"""
    values = _values(rng)
    steps = rng.randint(3, 5)
    result = submission.call("zeroed_grads", values, steps)
    grads = _grad_list(result, steps)
    want = _one_step(values)
    for k, g in enumerate(grads):
        got = flat_numbers(g)
        if all_close(got, want):
            continue
        params = {"step": k, "got": preview(got), "want": preview(want)}
        if got is not None and all(abs(v) <= 1e-6 for v in got):
            fail("zeroed_all_zero", **params)
        r = _factor(got, want)
        if r is not None and abs(r - round(r)) < 1e-3 and round(r) > 1:
            fail("zeroed_not_cleared", factor=round(r), **params)
        fail_if_caused(result, g, got, want, step=k)
        fail("zeroed_wrong", **params)


@points(1)
def test_steps_are_independent(submission, rng):
    """zeroed_grads returns independent tensors, not one tensor several times"""
    values = _values(rng)
    result = submission.call("zeroed_grads", values, 3)
    grads = _grad_list(result, 3)
    ids = [g.id for g in grads]
    if len(set(ids)) < len(ids):
        fail("zeroed_same_tensor", steps=3, distinct=len(set(ids)))
    # detach() or a view keeps sharing x.grad's memory: zero_() would then wipe every entry.
    storages = {g.storage for g in grads}
    if len(storages) < len(grads):
        fail("zeroed_shared_storage", steps=3, distinct=len(storages))
    want = _one_step(values)
    for k, g in enumerate(grads):
        # If the entries were linked, the last write would show in all of them.
        expect(
            all_close(flat_numbers(g), want),
            "zeroed_wrong",
            step=k,
            got=preview(flat_numbers(g)),
            want=preview(want),
        )


@points(2)
def test_zero_grad_in_place(submission, rng):
    """zero_grad_ zeroes the existing gradient tensor in place"""
    values = _values(rng, 3, 5)
    grad = [round(rng.uniform(0.5, 3) * rng.choice((-1, 1)), 3) for _ in values]
    result = submission.call("zero_grad_", tensor(values, requires_grad=True, grad=grad))
    value = result.returned()
    x = result.args[0]
    if x.grad is None:
        fail("zero_grad_set_none")
    if x.grad.id != result.arg_grad_ids[0]:
        fail("zero_grad_new_tensor")
    got = flat_numbers(x.grad)
    if not (got is not None and len(got) == len(values) and all(v == 0.0 for v in got)):
        fail("zero_grad_not_zero", got=preview(got))
    _expect_x_untouched(x, values)
    expect(value is None, "zero_grad_returns", got=describe_value(value))


def _expect_x_untouched(x, values):
    same = all_close(flat_numbers(x), values, rtol=0, atol=1e-6)
    expect(
        same and x.requires_grad and x.is_leaf,
        "zero_grad_changed_x",
        got=preview(flat_numbers(x)),
        want=preview(values),
    )


@points(1)
def test_zero_grad_none_is_noop(submission, rng):
    """zero_grad_ does nothing when x.grad is None"""
    values = _values(rng, 3, 5)
    result = submission.call("zero_grad_", tensor(values, requires_grad=True))
    if result.error is not None:
        error = result.error
        if error.get("type") == "NotImplementedError" or error.get("kind") != "exception":
            result.returned()  # the generic hint (stub, exit, memory...)
        fail(
            "zero_grad_none_raised",
            type=error.get("type", ""),
            line=error.get("line") or "?",
            message=str(error.get("message", ""))[:300],
        )
    x = result.args[0]
    if x.grad is not None:
        fail("zero_grad_made_grad")
    _expect_x_untouched(x, values)


@points(1)
def test_uses_autograd(submission, rng):
    """accumulated_grad and zeroed_grads run one backward pass per step"""
    values = _values(rng)
    steps = rng.randint(2, 5)
    result = submission.call("accumulated_grad", values, steps)
    t = result.tensor()
    right = all_close(flat_numbers(t), [steps * g for g in _one_step(values)])
    if result.backward_passes == 0 and right:
        fail("uses_autograd", function="accumulated_grad")
    expect(
        result.backward_passes == steps,
        "backward_count",
        function="accumulated_grad",
        passes=result.backward_passes,
        steps=steps,
    )
    result = submission.call("zeroed_grads", values, steps)
    grads = result.returned()
    right = (
        isinstance(grads, list)
        and len(grads) == steps
        and all(all_close(flat_numbers(g), _one_step(values)) for g in grads)
    )
    if result.backward_passes == 0 and right:
        fail("uses_autograd", function="zeroed_grads")
    expect(
        result.backward_passes == steps,
        "backward_count",
        function="zeroed_grads",
        passes=result.backward_passes,
        steps=steps,
    )
