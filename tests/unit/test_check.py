"""The trusted side of a check: decoding the child's data, comparisons, error hints."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest

from grader.check import CheckFailed, Submission, expect_close
from grader.child.protocol import Chunk
from grader.child.wire import Malformed
from grader.course import content
from grader.course.content import ExerciseContent
from grader.judge.answers import Opaque, TensorValue, decode
from grader.judge.hints import error_hint
from grader.run.children import Children

# What Submission.call turns into a "malformed_reply" verdict: anything else escapes.
REJECTED = (Malformed, TypeError, ValueError, IndexError, AttributeError)


def tensor_body(**fields: Any) -> dict[str, Any]:
    body = {
        "data": [1.0, 2.0],
        "shape": [2],
        "dtype": "float32",
        "requires_grad": True,
        "is_leaf": True,
        "grad_fn": None,
        "grad": None,
        "type": "torch.Tensor",
        "id": 7,
    }
    body.update(fields)
    return body


def nested(depth: int, make: Any) -> Any:
    value: Any = 1.0
    for _ in range(depth):
        value = make(value)
    return value


# -- decode -----------------------------------------------------------------------------
def test_decode_builds_plain_values() -> None:
    data = {
        "$tuple": [
            {"$tensor": tensor_body(grad=tensor_body(data=[0.5, 0.5], grad=None))},
            {"$dict": [["a", 1], ["b", [True, None, "s"]]]},
            {"$object": {"type": "Foo", "repr": "<Foo>"}},
        ]
    }
    t, d, o = decode(data)
    assert isinstance(t, TensorValue)
    assert t.data == [1.0, 2.0] and t.shape == [2] and t.requires_grad and t.is_leaf
    assert t.grad is not None and t.grad.data == [0.5, 0.5]
    assert d == {"a": 1, "b": [True, None, "s"]}
    assert o == Opaque(type="Foo", repr="<Foo>")


def test_decode_scalar_tensor_data() -> None:
    t = decode({"$tensor": tensor_body(data=3, shape=[])})
    assert t.data == [3.0] and t.item() == 3.0


def test_decode_takes_only_true_as_true() -> None:
    t = decode({"$tensor": tensor_body(requires_grad="yes", is_leaf=1)})
    assert t.requires_grad is False and t.is_leaf is False


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"$evil": []}, id="unknown tag"),
        pytest.param({"$tensor": tensor_body(), "extra": 1}, id="two keys"),
        pytest.param({"$tuple": "abc"}, id="tuple not a list"),
        pytest.param({"$dict": {"a": 1}}, id="dict not a list of pairs"),
        pytest.param({"$dict": [[1, 2, 3]]}, id="dict triple"),
        pytest.param({"$dict": [5]}, id="dict number"),
        pytest.param({"$object": "str"}, id="object not a dict"),
        pytest.param({"$tensor": [1, 2]}, id="tensor not a dict"),
        pytest.param({"$tensor": tensor_body(data=["1.0", "2.0"])}, id="string data"),
        pytest.param({"$tensor": tensor_body(data="12")}, id="data a string"),
        pytest.param({"$tensor": tensor_body(data={"a": 1})}, id="data a dict"),
        pytest.param({"$tensor": tensor_body(data=[[1.0, 2.0]])}, id="nested data"),
        pytest.param({"$tensor": tensor_body(data=[None, 1.0])}, id="null in data"),
        pytest.param({"$tensor": tensor_body(data=[True, False])}, id="bools as data"),
        pytest.param({"$tensor": tensor_body(data=True)}, id="bool as scalar data"),
        pytest.param({"$tensor": tensor_body(data=None)}, id="no data"),
        pytest.param({"$tensor": tensor_body(shape="2")}, id="shape a string"),
        pytest.param({"$tensor": tensor_body(shape=[2.0])}, id="float in shape"),
        pytest.param({"$tensor": tensor_body(shape=None)}, id="no shape"),
        pytest.param({"$tensor": tensor_body(id=True)}, id="bool id"),
        pytest.param({"$tensor": tensor_body(id="7")}, id="string id"),
        pytest.param({"$tensor": tensor_body(grad=tensor_body(data=["x"]))}, id="bad grad"),
        pytest.param(nested(200, lambda v: [v]), id="deep lists"),
        pytest.param(nested(200, lambda v: {"$tuple": [v]}), id="deep tuples"),
        pytest.param(nested(200, lambda v: {"$dict": [["k", v]]}), id="deep dicts"),
        pytest.param(nested(5000, lambda v: [v]), id="very deep lists"),
    ],
)
def test_decode_rejects_malformed_data(data: Any) -> None:
    with pytest.raises(REJECTED):
        decode(data)


@pytest.mark.parametrize("depth", [40, 3000])
def test_decode_rejects_deeply_nested_grads(depth: int) -> None:
    body = nested(depth, lambda g: tensor_body(grad=g if isinstance(g, dict) else None))
    with pytest.raises(REJECTED):
        decode({"$tensor": body})


def test_decode_rejects_bools_in_shape() -> None:
    with pytest.raises(REJECTED):
        decode({"$tensor": tensor_body(data=[1.0], shape=[True])})


def test_decode_depth_limit_is_a_malformed_error() -> None:
    assert decode(nested(30, lambda v: [v])) is not None
    with pytest.raises(Malformed, match="too deep"):
        decode(nested(31, lambda v: [v]))


class _FakeSession:
    """Answers load with ok and every call with one canned reply."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True} if message["op"] == "load" else self.reply

    def close(self) -> None:
        return None


@pytest.mark.parametrize(
    "reply",
    [
        {"ok": True, "value": {"$evil": 1}},
        {"ok": True, "value": {"$tensor": tensor_body(data=[True])}},
        {"ok": True, "value": 1, "args": [{"$tensor": tensor_body(shape="x")}]},
        {"ok": True, "value": 1, "arg_ids": ["x"]},
        {"ok": True, "value": 1, "ops": [5]},
        {"ok": True, "value": nested(100, lambda v: [v])},
    ],
)
def test_submission_call_turns_malformed_replies_into_a_verdict(reply: dict[str, Any]) -> None:
    submission = Submission(Children(lambda: _FakeSession(reply)), [Chunk("x.py", "")])
    with pytest.raises(CheckFailed) as info:
        submission.call("make_leaf", [1, 2])
    assert info.value.hint == "malformed_reply"
    assert info.value.params == {"function": "make_leaf"}


# -- expect_close -----------------------------------------------------------------------
def as_float32(v: float) -> float:
    return struct.unpack("f", struct.pack("f", v))[0]


@pytest.mark.parametrize("want", [0.1, 1 / 3, -2.718281828, 12345.678, 1e-7, 0.0, 3e5])
def test_expect_close_accepts_float32_rounding(want: float) -> None:
    expect_close(as_float32(want), want, "wrong_values")
    expect_close([as_float32(want), as_float32(-want)], [want, -want], "wrong_values")


def test_expect_close_accepts_a_tensor_value() -> None:
    values = [0.1, -1.7, 2.25]
    t = decode({"$tensor": tensor_body(data=[as_float32(v) for v in values], shape=[3])})
    expect_close(t, values, "wrong_values")


def test_expect_close_accepts_nested_lists_and_ints() -> None:
    expect_close([[1, 2], (3.0,)], [1.0, 2.0, 3.0], "wrong_values")


@pytest.mark.parametrize(
    ("actual", "want", "got"),
    [
        (0.11, 0.1, "[0.11]"),
        ([1.0, 2.0, 3.5], [1.0, 2.0, 3.0], "[1, 2, 3.5]"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "[1, 2]"),
        (2 * 0.5, 0.5, "[1]"),
        ("0.5", 0.5, "(not numbers)"),
        (True, 1.0, "(not numbers)"),
        (None, 0.0, "(not numbers)"),
        (float("nan"), 1.0, "[nan]"),
    ],
)
def test_expect_close_rejects_with_got_and_want(actual: Any, want: Any, got: str) -> None:
    with pytest.raises(CheckFailed) as info:
        expect_close(actual, want, "square_and_sum_y", shapes=False, function="square_and_sum")
    failure = info.value
    assert failure.hint == "square_and_sum_y"
    assert failure.params["got"] == got
    want_list = [want] if isinstance(want, float) else want
    assert failure.params["want"] == "[" + ", ".join(f"{w:.4g}" for w in want_list) + "]"
    assert failure.params["function"] == "square_and_sum"


def test_expect_close_preview_is_short() -> None:
    with pytest.raises(CheckFailed) as info:
        expect_close(list(range(100)), [0.0] * 100, "wrong_values")
    assert info.value.params["got"] == "[0, 1, 2, 3, 4, 5, ...]"


def test_expect_close_tolerance_is_relative_for_large_values() -> None:
    expect_close(1e6 * (1 + 1e-4), 1e6, "wrong_values")
    with pytest.raises(CheckFailed):
        expect_close(1e6 * (1 + 1e-3), 1e6, "wrong_values")


# -- error_hint -------------------------------------------------------------------------
# The course's own patterns, as grade_exercise makes them active for its checks.
COURSE = Path(__file__).resolve().parents[2]
# The course-wide patterns alone: 02 brings no [patterns] of its own (01 and 03 do, and
# theirs are tried first, so they would answer for some of these messages).
CONTENT = ExerciseContent.load(COURSE / "checks" / "02_vector_grad_mean", COURSE / "templates")
_TORCH_ERRORS = [(p.pattern, hint) for p, hint in CONTENT.patterns]


@pytest.fixture(autouse=True)
def _course_content() -> Any:
    with content.using(CONTENT):
        yield


def _torch_messages() -> dict[str, tuple[str, str]]:
    """Make torch raise each error the hints are about; return hint id -> (type, message)."""
    torch = pytest.importorskip("torch")

    def leaf() -> Any:
        return torch.ones(3, requires_grad=True)

    def backward_twice() -> None:
        x = leaf()
        y = (x * x).sum()
        y.backward()
        y.backward()

    triggers = {
        "int_requires_grad": lambda: torch.tensor([1, 2], requires_grad=True),
        "backward_non_scalar": lambda: (leaf() * 2).backward(),
        "inplace_leaf": lambda: leaf().add_(1),
        "backward_twice": backward_twice,
        "no_grad_fn": lambda: torch.ones(2).sum().backward(),
        "grad_none_zero": lambda: leaf().grad.zero_(),
        "grad_none_math": lambda: 0.1 * leaf().grad,
        "numpy_requires_grad": lambda: leaf().numpy(),
    }
    messages = {}
    for hint, trigger in triggers.items():
        try:
            trigger()
        except Exception as exc:  # the error is the point
            messages[hint] = (type(exc).__name__, str(exc))
        else:
            raise AssertionError(f"{hint}: torch raised nothing")
    return messages


@pytest.fixture(scope="module")
def torch_messages() -> dict[str, tuple[str, str]]:
    return _torch_messages()


def test_every_torch_error_pattern_is_tested(torch_messages: dict[str, tuple[str, str]]) -> None:
    assert sorted(torch_messages) == sorted(hint for _, hint in _TORCH_ERRORS)


@pytest.mark.parametrize("hint", sorted(hint for _, hint in _TORCH_ERRORS))
def test_torch_errors_map_to_their_hint(
    torch_messages: dict[str, tuple[str, str]], hint: str
) -> None:
    kind, message = torch_messages[hint]
    error = {"kind": "exception", "type": kind, "message": message, "line": 12}
    failure = error_hint(error, "make_leaf")
    assert failure.hint == hint, message
    assert failure.params == {
        "function": "make_leaf",
        "line": 12,
        "type": kind,
        "message": message[:300],
    }


@pytest.mark.parametrize(
    ("message", "hint"),
    [
        ("Only Tensors of floating point dtype can require gradients", "int_requires_grad"),
        ("grad can be implicitly created only for real scalar outputs", "backward_non_scalar"),
        ("unsupported operand type(s) for -=: 'NoneType' and 'float'", "grad_none_math"),
        ("unsupported operand type(s) for -: 'Tensor' and 'NoneType'", "grad_none_math"),
        ("TRYING TO BACKWARD THROUGH THE GRAPH A SECOND TIME", "backward_twice"),
    ],
)
def test_torch_error_variants(message: str, hint: str) -> None:
    assert error_hint({"type": "RuntimeError", "message": message}, "f").hint == hint


def test_patterns_are_valid_lowercase_regexes() -> None:
    # error_hint lowercases the message first: an upper-case pattern would never match.
    for pattern, _ in _TORCH_ERRORS:
        re.compile(pattern)
        assert pattern == pattern.lower(), pattern


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ({"type": "NotImplementedError", "message": ""}, "not_implemented"),
        # The stub's error wins even when its text happens to look like a torch error.
        (
            {"type": "NotImplementedError", "message": "trying to backward through the graph"},
            "not_implemented",
        ),
        ({"kind": "missing_function", "type": "AttributeError"}, "missing_function"),
        ({"kind": "memory", "type": "MemoryError"}, "memory_limit"),
        ({"kind": "exit", "type": "SystemExit"}, "exited_in_call"),
        ({"type": "ZeroDivisionError", "message": "division by zero"}, "raised"),
        ({}, "raised"),
    ],
)
def test_other_errors_map_to_their_hint(error: dict[str, Any], hint: str) -> None:
    failure = error_hint(error, "square_and_sum")
    assert failure.hint == hint
    assert failure.params["function"] == "square_and_sum"
    assert failure.params["line"] == "?"


def test_error_hint_cuts_long_messages() -> None:
    failure = error_hint({"type": "ValueError", "message": "x" * 5000}, "f")
    assert failure.params["message"] == "x" * 300


def test_check_failed_keeps_params_plain() -> None:
    failure = CheckFailed("h", shape=(2, 3), obj=object(), many=list(range(50)), flag=True)
    assert failure.params["shape"] == [2, 3]
    assert isinstance(failure.params["obj"], str)
    assert failure.params["many"] == list(range(20))
    assert failure.params["flag"] is True
