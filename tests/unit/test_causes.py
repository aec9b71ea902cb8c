"""Causes of a wrong value: each recogniser fires on its evidence and nowhere else.

The recognisers are driven on plain data; the child's side of the evidence
(version counters, inference flags, the replayed graph) is driven through the
in-process runtime, the same code a sandboxed child runs.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from fake_session import FakeChild

from grader.check import CheckFailed, expect_close, tensor
from grader.child import wire
from grader.child.protocol import Chunk, read_graph, read_versions
from grader.judge.answers import ANSWERS, Answers, CallResult, TensorValue
from grader.judge.causes import (
    changed_caller,
    explain_cause,
    fail_if_caused,
    fail_if_inference,
    from_graph,
    inference_made,
    low_precision,
    shared_storage,
    zeroed_after_reading,
)
from grader.judge.submission import Submission
from grader.run.children import Children
from grader.run.executors import ChildGone
from grader.run.executors.in_process import InProcessSession

T = TensorValue(
    data=[1.0, 2.0],
    shape=[2],
    dtype="float32",
    requires_grad=False,
    is_leaf=True,
    grad_fn=None,
    grad=None,
    type="Tensor",
    id=1,
    storage=100,
)


def hint(cause: Any) -> str | None:
    return None if cause is None else str(cause.hint)


# -- recognisers on plain data ----------------------------------------------------------
def test_an_inference_tensor_is_named_wherever_it_sits() -> None:
    assert hint(inference_made(replace(T, inference=True))) == "cause_inference_mode"
    assert hint(inference_made((T, [replace(T, inference=True)]))) == "cause_inference_mode"
    assert inference_made((T, [T])) is None
    with pytest.raises(CheckFailed) as info:
        fail_if_inference({"y": replace(T, inference=True)}, "square")
    assert info.value.hint == "cause_inference_mode"
    fail_if_inference(T, "square")  # a plain tensor: quiet


def _call(args: list[Any], versions: list[list[int] | None], value: Any = None) -> CallResult:
    return CallResult(function="f", value=value, args=args, arg_versions=versions)


def test_an_argument_changed_in_place_is_named_and_so_is_shared_memory() -> None:
    x = replace(T, id=7, storage=500, version=1)
    assert hint(changed_caller(_call([x], [[0, -1]]))) == "cause_changed_argument"
    shares = _call([x], [[0, -1]], value=replace(T, storage=500, version=1))
    assert hint(changed_caller(shares)) == "cause_changed_argument_shared"
    assert changed_caller(_call([x], [[1, -1]])) is None  # untouched since the call began
    # The task updates x in place (sgd_step_): only its .grad is the caller's to keep.
    assert changed_caller(_call([x], [[0, -1]]), may_change=[0]) is None
    with_grad = replace(x, grad=replace(T, version=2))
    cause = changed_caller(_call([with_grad], [[0, 0]]), may_change=[0])
    assert cause is not None and cause.hint == "cause_changed_argument_grad"
    assert cause.params == {"position": 1}
    assert changed_caller(_call([3.0, with_grad], [None, [1, 2]])) is None


def test_an_argument_judged_for_itself_is_not_blamed_for_changing() -> None:
    x = replace(T, version=3)
    result = _call([x], [[0, -1]])
    assert explain_cause(result, x, [9.0, 9.0], [1.0, 2.0], replay=False) is None
    assert hint(explain_cause(result, None, None, None, replay=False)) == "cause_changed_argument"


def test_zeros_written_after_reading_need_a_write_and_a_nonzero_answer() -> None:
    zeros = replace(T, data=[0.0, 0.0], version=1)
    assert hint(zeroed_after_reading(zeros, [0.5, 1.0])) == "cause_zeroed_after_reading"
    assert zeroed_after_reading(replace(zeros, version=0), [0.5, 1.0]) is None
    assert zeroed_after_reading(zeros, [0.0, 0.0]) is None
    assert zeroed_after_reading(replace(T, version=1), [0.5, 1.0]) is None


def test_shared_storage_needs_two_tensors_on_one_memory_written_since() -> None:
    a, b = replace(T, id=1, version=2), replace(T, id=2, version=2)
    cause = shared_storage([a, b, replace(T, id=3, storage=900)])
    assert cause is not None and cause.params == {"count": 2}
    assert shared_storage([replace(a, version=0), replace(b, version=0)]) is None
    assert shared_storage([a, replace(b, storage=101)]) is None
    assert shared_storage([a]) is None


def test_low_precision_names_a_drift_not_a_different_answer() -> None:
    half = replace(T, dtype="bfloat16")
    assert hint(low_precision(half, [1.004, 2.0], [1.0, 2.0])) == "cause_low_precision"
    assert low_precision(half, [3.0, 2.0], [1.0, 2.0]) is None  # far off: another mistake
    assert low_precision(T, [1.004, 2.0], [1.0, 2.0]) is None  # float32 drifts by less


def test_the_graph_names_a_broadcast_then_a_precision_then_a_cast() -> None:
    stretched = {"broadcasts": [["sub", [5, 1], [5]]], "dtypes": ["bfloat16"]}
    cause = from_graph(stretched, [19.0], [11.0])
    assert cause is not None and cause.hint == "cause_broadcast"
    assert cause.params == {"op": "sub", "a": "(5, 1)", "b": "(5,)"}
    low = {"dtypes": ["float32", "bfloat16"]}
    assert hint(from_graph(low, [1.94, 1.2], [2.0, 1.0])) == "cause_low_precision_graph"
    assert from_graph(low, [5.0, 1.0], [2.0, 1.0]) is None
    assert hint(from_graph({"integer_casts": 1}, [1.0], [1.5])) == "cause_integer_cast"
    assert from_graph({"dtypes": ["float32", "int64"]}, [1.0], [1.5]) is None
    assert from_graph({}, [1.0], [1.5]) is None


def test_hostile_evidence_is_dropped_or_refused_never_a_traceback() -> None:
    assert read_graph("lies") == {}
    assert read_graph({"broadcasts": [["sub", [float("inf")], [1]]]}) == {}
    assert read_graph({"dtypes": ["x" * 500] * 40})["dtypes"] == ["x" * 20] * 16
    assert read_versions(None) == []
    assert read_versions([None, [1, -1]]) == [None, [1, -1]]
    for bad in ("x", [[1]], [[1, "2"]], [[1e300, 0]]):
        with pytest.raises(wire.Malformed):
            read_versions(bad)


# -- the child's evidence, through the in-process runtime ---------------------------------
SOURCE = """
import torch

def square_detached_in_place(x):
    with torch.no_grad():
        y = x.detach()
        y **= 2
        return y

def under_inference(x):
    with torch.inference_mode():
        return x ** 2

def column_loss(xs, ys):
    a = torch.tensor(xs).view(-1, 1)
    return ((a - torch.tensor(ys)) ** 2).mean()

def half_sum(xs):
    return torch.tensor(xs, dtype=torch.bfloat16).sum().item()

def truncated(xs):
    return torch.tensor(xs).long().float().sum().item()

def mse_column(xs, ys):
    return torch.nn.functional.mse_loss(torch.tensor(xs).view(-1, 1), torch.tensor(ys)).item()

def outer_sum(xs):
    x = torch.tensor(xs)
    return (x.view(-1, 1) @ x.view(1, -1)).sum().item() + (x * 2 ** 0.5).sum().item()

def integer_data(xs):
    return (torch.tensor(xs, dtype=torch.long) * torch.tensor(0.5)).sum().item()

def grad_zeroed(xs):
    x = torch.tensor(xs, requires_grad=True)
    (x ** 2).mean().backward()
    g = x.grad
    x.grad.zero_()
    return g
"""


@pytest.fixture
def submission() -> Submission:
    chunks = [Chunk("exercise.py", SOURCE)]
    return Submission(Children(lambda: InProcessSession(time.monotonic() + 600)), chunks)


def test_the_child_reports_versions_and_inference_flags(submission: Submission) -> None:
    result = submission.call("square_detached_in_place", tensor([1.5, 2.0], requires_grad=True))
    assert result.arg_versions == [[0, -1]]
    assert result.args[0].version == 1 and result.value.storage == result.args[0].storage
    assert hint(explain_cause(result, replay=False)) == "cause_changed_argument_shared"
    result = submission.call("under_inference", tensor([1.5, 2.0]))
    assert result.value.inference and result.value.version == -1
    assert hint(explain_cause(result, replay=False)) == "cause_inference_mode"
    result = submission.call("grad_zeroed", [1.0, 2.0])
    with pytest.raises(CheckFailed) as info:
        expect_close(result.tensor(), [1.0, 2.0], "wrong_values", function="grad_zeroed")
    assert info.value.hint == "cause_zeroed_after_reading"


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # torch's own, on mse_column
@pytest.mark.parametrize(
    ("function", "args", "want", "cause"),
    [
        ("column_loss", ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]), 1.0, "cause_broadcast"),
        ("half_sum", ([1.001, 2.0, 3.0],), 6.001, "cause_low_precision_graph"),
        ("truncated", ([1.5, 2.5],), 4.0, "cause_integer_cast"),
        ("integer_data", ([1.5, 2.5],), 2.0, "cause_integer_cast"),
        ("mse_column", ([1.0, 2.0], [2.0, 3.0]), 1.0, "cause_broadcast"),
    ],
)
def test_a_replay_records_the_graph_of_a_wrong_value(
    submission: Submission, function: str, args: tuple[Any, ...], want: float, cause: str
) -> None:
    result = submission.call(function, *args)
    assert result.graph is None  # a correct answer never pays for the evidence
    value = result.returned()
    got = value if isinstance(value, float) else value.item()
    with pytest.raises(CheckFailed) as info:
        fail_if_caused(result, got=got, want=want)
    assert info.value.hint == cause
    assert result.graph is not None and result.graph.get("dtypes")
    replays = [r for r in _requests(submission) if r.get("evidence")]
    assert len(replays) == 1 and replays[0]["function"] == function


def test_a_matrix_product_or_a_scalar_is_no_broadcast_mistake(submission: Submission) -> None:
    result = submission.call("outer_sum", [1.0, 2.0, 3.0])
    fail_if_caused(result, got=result.returned(), want=1.0)  # wrong, but no cause shown
    assert result.graph is not None and result.graph["broadcasts"] == []


def _requests(submission: Submission) -> list[dict[str, Any]]:
    # The in-process session answers through the very runtime; record what it was asked.
    return submission.children._child.asked


@pytest.fixture(autouse=True)
def _record_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    original = InProcessSession.request

    def request(self: InProcessSession, message: dict[str, Any]) -> dict[str, Any]:
        self.__dict__.setdefault("asked", []).append(message)
        return original(self, message)

    monkeypatch.setattr(InProcessSession, "request", request)


def test_a_file_that_turns_grad_mode_off_at_import_is_told_so() -> None:
    import torch

    def graded(source: str) -> CallResult:
        chunks = [Chunk("exercise.py", source)]
        submission = Submission(Children(lambda: InProcessSession(time.monotonic() + 600)), chunks)
        result = submission.call("half_sum", [1.0])
        # The loader undoes it: the next file loaded in this process starts with it on.
        assert torch.is_grad_enabled()
        return result

    result = graded(SOURCE + "\nOFF = torch.set_grad_enabled(False)\n")
    assert explain_cause(result, replay=False) is None  # only where the grad mode is judged
    assert hint(explain_cause(result, replay=False, grad_mode=True)) == "cause_grad_mode_at_import"
    result = graded(SOURCE)
    assert explain_cause(result, replay=False, grad_mode=True) is None


def test_a_replay_runs_on_time_given_back_to_the_clock(submission: Submission) -> None:
    result = submission.call("column_loss", [1.0, 2.0], [2.0, 3.0])
    children = submission.children
    children.timeout = 60.0
    end = children._budget_end = time.monotonic() + 0.5  # less than the replay may take
    assert hint(explain_cause(result, got=[1.0], want=[2.0])) == "cause_broadcast"
    assert [r for r in _requests(submission) if r.get("evidence")]
    # The exercise's end moved by just the replay's seconds: the student lost none.
    assert children._uncharged > 0
    assert children._budget_end == pytest.approx(end + children._uncharged)
    assert children.uncharged_left() == pytest.approx(30.0 - children._uncharged)


def test_no_replay_once_the_graders_own_time_is_spent(submission: Submission) -> None:
    result = submission.call("column_loss", [1.0, 2.0], [2.0, 3.0])
    submission.children.timeout = 4.0
    submission.children._uncharged = 1.9  # of 2 s: less than a replay's bound
    assert explain_cause(result, got=[1.0], want=[2.0]) is None
    assert result.graph == {}
    assert not [r for r in _requests(submission) if r.get("evidence")]


def test_expect_close_names_a_cause_before_the_numbers() -> None:
    token = ANSWERS.set(Answers())  # no submission behind it: nothing to replay
    try:
        expect_close(T, [1.0, 2.0], "wrong_values")
        half = replace(T, dtype="bfloat16", data=[1.004, 2.0])
        with pytest.raises(CheckFailed) as info:
            expect_close(half, [1.0, 2.0], "wrong_values")
        assert info.value.hint == "cause_low_precision"
        with pytest.raises(CheckFailed) as info:
            expect_close(replace(T, data=[1.5, 2.0]), [1.0, 2.0], "wrong_values")
        assert info.value.hint == "wrong_values"  # no evidence: the numbers alone
    finally:
        ANSWERS.reset(token)


def test_a_replay_that_crashes_is_not_charged_to_the_student() -> None:
    child = FakeChild({"f": [1.5, 1.5, ChildGone(-9)]})
    submission = Submission(Children(child.start), [Chunk("exercise.py", "")])
    result = submission.call("f")
    assert explain_cause(result, got=[1.5], want=[2.0]) is None
    assert submission.children.restarts == 0 and submission.broken is None
    assert [r.get("evidence") for r in child.requests("call")] == [None, None, True]
    assert result.graph == {}  # asked once: a second wrong value does not replay again
    explain_cause(result, got=[1.5], want=[2.0])
    assert len(child.requests("call")) == 3


def test_the_graph_evidence_stays_small_whatever_the_code_does() -> None:
    import torch

    from grader.child.evidence import MAX_BROADCASTS, GraphEvidence

    graph = GraphEvidence(torch)
    with graph.mode:
        column, row = torch.ones(4, 1), torch.ones(4)
        for _ in range(50):
            _ = column - row
        for dtype in (torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.int8):
            _ = torch.ones(3, dtype=dtype) * 2
        _ = torch.ones(3) * torch.ones(3)  # same shapes: no broadcast
        _ = torch.ones(3, 1) @ torch.ones(1, 3)  # a product, not an element-wise op
    report = graph.report()
    assert len(report["broadcasts"]) == MAX_BROADCASTS
    assert report["broadcasts"][0] == ["sub", [4, 1], [4]]
    assert {"float16", "bfloat16", "float64", "int32", "float32"} <= set(report["dtypes"])
    assert report["integer_casts"] == 0  # integers times a Python number: no float data met
