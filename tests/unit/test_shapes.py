"""Mistake shapes on plain numbers: each recogniser fires on its shape and nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from grader.check import (
    CallResult,
    CheckFailed,
    Submission,
    close,
    expect_close,
    expect_close_together,
    fail_if_shaped,
    fail_if_shifted,
)
from grader.child.protocol import Chunk
from grader.judge.answers import Answers
from grader.judge.shapes import MAX_FACTOR, explain, explain_steps, explain_swap
from grader.judge.submission import _same_answer
from grader.run.children import Children

WANT = [0.5, -1.25, 3.0]


def shape(got: list[float], want: list[float] = WANT, **kw: Any) -> tuple[str, dict] | None:
    found = explain(got, want, close, **kw)
    return None if found is None else (found.hint, found.params)


# -- explain: one value ---------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 7, MAX_FACTOR])
def test_integer_multiple_is_accumulation(k: int) -> None:
    assert shape([k * w for w in WANT]) == ("shape_multiple", {"factor": k})


def test_multiple_of_a_mean_over_n_is_a_sum() -> None:
    assert shape([3 * w for w in WANT], mean_of=3) == ("shape_sum_not_mean", {"n": 3})
    # Another factor than n stays accumulation, and so does any factor when n == 1.
    assert shape([2 * w for w in WANT], mean_of=3) == ("shape_multiple", {"factor": 2})
    assert shape([2 * w for w in WANT], mean_of=1) == ("shape_multiple", {"factor": 2})


def test_fraction_of_a_sum_over_n_is_a_mean() -> None:
    assert shape([w / 4 for w in WANT], sum_of=4) == ("shape_mean_not_sum", {"n": 4})
    # Without sum_of (or with another n) a fraction is not named.
    assert shape([w / 4 for w in WANT]) is None
    assert shape([w / 4 for w in WANT], sum_of=3) is None


def test_opposite_sign_is_ascent() -> None:
    assert shape([-w for w in WANT]) == ("shape_opposite_sign", {})


def test_example_answer() -> None:
    example = [2 / 3, 4 / 3, 2.0]
    assert shape(example, example=example) == ("shape_example_answer", {})


def test_answer_that_stays_put_ignores_its_input() -> None:
    earlier = ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])  # right before, for other arguments
    assert shape([1.0, 2.0, 3.0], seen=[earlier]) == ("shape_ignores_input", {})


@pytest.mark.parametrize(
    ("got", "want", "kw"),
    [
        ([0.0, 0.0], [0.0, 0.0], {}),  # right
        ([1e-9, 0.0], [0.0, 0.0], {}),  # right within atol
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], {"mean_of": 3}),
        ([1.0, 2.0], [0.0, 0.0], {}),  # want all zero: k * 0 == -0 == 0 explains nothing
        ([0.0], [0.0], {"sum_of": 1}),
        ([1.0, 2.0], [1.0, 2.0], {"sum_of": 1}),  # n == 1: want / n == want, and right
        ([1.0, 2.0], [1.0, 2.0, 3.0], {}),  # lengths differ
        ([2.0, 4.1], [1.0, 2.0], {}),  # 2x on one number only
        ([1.0 * (MAX_FACTOR + 1), 2.0 * (MAX_FACTOR + 1)], [1.0, 2.0], {}),  # no slip
        ([1.5, 3.0], [1.0, 2.0], {}),  # 1.5 is no count of backward() calls
        ([-1.0, 2.0], [1.0, 2.0], {}),  # one sign flipped
        ([1.0, 2.0], [1.0, 3.0], {"example": [1.0, 3.0]}),  # want is the example: got is wrong
        ([5.0, 5.0], [1.0, 2.0], {"seen": [([5.0, 5.0], [1.0, 2.0])]}),  # same want before
        ([5.0, 5.0], [1.0, 2.0], {"seen": [([4.0, 4.0], [3.0, 3.0])]}),  # another answer then
    ],
)
def test_no_shape_without_evidence(got: list[float], want: list[float], kw: dict) -> None:
    assert shape(got, want, **kw) is None


def test_shape_never_fires_on_a_right_answer() -> None:
    for kw in ({}, {"mean_of": 3}, {"sum_of": 3}, {"example": WANT}, {"seen": [(WANT, [1.0])]}):
        assert shape(list(WANT), **kw) is None


def test_zeros_in_want_keep_their_place() -> None:
    assert shape([0.0, 2.0, -4.0], [0.0, 1.0, -2.0]) == ("shape_multiple", {"factor": 2})


# -- explain_swap: several outputs ------------------------------------------------------
def test_swapped_outputs() -> None:
    assert explain_swap([[1.0], [2.0]], [[2.0], [1.0]], close) == (0, 1)
    assert explain_swap([[7.0, 7.0], [2.0, 4.0]], [[2.0, 4.0], [7.0, 7.0]], close) == (0, 1)


@pytest.mark.parametrize(
    ("got", "want"),
    [
        ([[1.0], [2.0]], [[1.0], [2.0]]),  # right
        ([[3.0], [3.0]], [[3.0], [3.0]]),  # equal outputs swap into themselves
        ([[3.0], [1.0]], [[1.0], [2.0]]),  # wrong, but not a swap
        ([[1.0]], [[1.0], [2.0]]),
    ],
)
def test_no_swap_without_evidence(got: list, want: list) -> None:
    assert explain_swap(got, want, close) is None


# -- explain_steps: sequences -------------------------------------------------------------
STEPS = [[3.0], [2.4], [1.92], [1.536], [1.2288]]  # 4 steps asked, plus the one after


def test_recorded_after_update() -> None:
    found = explain_steps(STEPS[1:], STEPS, close)
    assert found is not None and found.hint == "shape_recorded_after_update"


def test_one_step_too_many_or_too_few() -> None:
    found = explain_steps(STEPS, STEPS, close)
    assert found is not None and (found.hint, found.params) == (
        "shape_extra_step",
        {"length": 5, "steps": 4},
    )
    found = explain_steps(STEPS[:3], STEPS, close)
    assert found is not None and found.hint == "shape_missing_step"


@pytest.mark.parametrize(
    "got",
    [
        STEPS[:4],  # right
        [[3.0], [3.0], [3.0], [3.0]],  # wrong, not shifted
        [],
    ],
)
def test_no_shift_without_evidence(got: list) -> None:
    assert explain_steps(got, STEPS, close) is None


def test_a_constant_sequence_is_not_shifted() -> None:
    # Every step the same (a minimum already reached): shifting changes nothing.
    flat = [[1.0]] * 5
    assert explain_steps(flat[1:], flat, close) is None


def test_too_short_to_tell() -> None:
    assert explain_steps([[2.0]], [[1.0], [2.0]], close) is None


# -- the check API around it ------------------------------------------------------------
def test_expect_close_names_the_shape_and_keeps_params() -> None:
    with pytest.raises(CheckFailed) as info:
        expect_close([2 * w for w in WANT], WANT, "wrong_values", function="f")
    assert info.value.hint == "shape_multiple"
    assert info.value.params["factor"] == 2
    assert info.value.params["function"] == "f"
    assert info.value.params["want"] == "[0.5, -1.25, 3]"


def test_expect_close_opts_out_of_shapes() -> None:
    with pytest.raises(CheckFailed) as info:
        expect_close([2 * w for w in WANT], WANT, "wrong_values", shapes=False)
    assert info.value.hint == "wrong_values"


def test_fail_if_shaped_returns_when_nothing_fits() -> None:
    fail_if_shaped([9.0, 9.0, 9.0], WANT)
    with pytest.raises(CheckFailed) as info:
        fail_if_shaped([-w for w in WANT], WANT, k=3)
    assert (info.value.hint, info.value.params["k"]) == ("shape_opposite_sign", 3)


def test_expect_close_together_names_a_swap() -> None:
    with pytest.raises(CheckFailed) as info:
        expect_close_together([("a", 1.0, 2.0), ("b", 2.0, 1.0)], "fit_params_wrong")
    assert info.value.hint == "shape_swapped"
    assert (info.value.params["first"], info.value.params["second"]) == ("a", "b")
    with pytest.raises(CheckFailed) as info:
        expect_close_together([("a", 2.0, 2.0), ("b", 3.0, 1.0)], "fit_params_wrong")
    assert (info.value.hint, info.value.params["what"]) == ("shape_multiple", "b")
    expect_close_together([("a", 2.0, 2.0), ("b", 1.0, 1.0)], "fit_params_wrong")


def test_fail_if_shifted() -> None:
    fail_if_shifted([3.0, 2.0], [3.0, 1.0, 0.5])
    with pytest.raises(CheckFailed) as info:
        fail_if_shifted([s[0] for s in STEPS[1:]], [s[0] for s in STEPS], epochs=4)
    assert (info.value.hint, info.value.params["epochs"]) == ("shape_recorded_after_update", 4)


def test_answers_remember_the_same_place_for_other_arguments() -> None:
    answers = Answers()
    first = CallResult("f", value=(1.0, [2.0, 3.0]))
    second = CallResult("f", value=(1.0, [2.0, 3.0]))
    answers.record(first, "args-1")
    answers.record(second, "args-2")
    answers.judged(first.value[1], [2.0, 3.0])
    assert answers.seen_elsewhere(second.value[1]) == [([2.0, 3.0], [2.0, 3.0])]
    assert answers.seen_elsewhere(first.value[1]) == []  # the same arguments: not elsewhere
    assert answers.seen_elsewhere([2.0, 3.0]) == []  # not a returned value


# -- leaked state: the repeated call ------------------------------------------------------
class _Replies:
    """A session whose calls answer from a list, in order."""

    def __init__(self, values: list[Any]) -> None:
        self.values = list(values)
        self.calls = 0

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["op"] in ("hello", "load"):
            return {"ok": True}
        self.calls += 1
        # As the child does: one entry per argument sent, read back after the call.
        sent = list(message.get("args", []))
        return {
            "ok": True,
            "value": self.values.pop(0),
            "args": sent,
            "arg_ids": [0] * len(sent),
            "arg_grad_ids": [None] * len(sent),
        }

    def close(self) -> None:
        return None


def _tensor(data: list[float], ident: int) -> dict[str, Any]:
    return {
        "$tensor": {
            "data": data,
            "shape": [len(data)],
            "dtype": "float32",
            "id": ident,
            "storage": ident,
        }
    }


def test_first_call_of_each_function_is_repeated() -> None:
    session = _Replies([_tensor([1.0], 1), _tensor([1.0], 2), _tensor([1.0], 3)])
    submission = Submission(Children(lambda: session), [Chunk("x.py", "")])
    submission.call("f", 1.0)
    assert session.calls == 2  # the same answer twice, other ids: fine
    submission.call("f", 2.0)
    assert session.calls == 3  # once per function


def test_a_different_second_answer_is_leaked_state() -> None:
    session = _Replies([_tensor([1.0, 2.0], 1), _tensor([2.0, 4.0], 1)])
    submission = Submission(Children(lambda: session), [Chunk("x.py", "")])
    with pytest.raises(CheckFailed) as info:
        submission.call("f", [1.0, 2.0])
    assert info.value.hint == "leaked_state"
    assert info.value.params == {"function": "f", "first": "[1, 2]", "second": "[2, 4]"}


def test_no_repeat_when_asked_not_to() -> None:
    session = _Replies([1.0, 2.0, 2.0])
    submission = Submission(Children(lambda: session), [Chunk("x.py", "")])
    submission.call("f", repeat=False)
    submission.call("f")
    assert session.calls == 3


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (1.0, 1.0 + 1e-9, True),
        (float("inf"), float("inf"), True),
        (float("nan"), float("nan"), True),
        ([1.0, 2.0], [1.0, 2.5], False),
        (
            {"$object": {"type": "F", "repr": "<F at 0x1>"}},
            {"$object": {"type": "F", "repr": "<F at 0x2>"}},
            True,
        ),
        (_tensor([1.0], 1), _tensor([1.0], 9), True),
        (_tensor([1.0], 1), _tensor([1.5], 1), False),
        ("a", "b", False),
    ],
)
def test_same_answer_ignores_ids_and_addresses(first: Any, second: Any, same: bool) -> None:
    assert _same_answer(first, second) is same
