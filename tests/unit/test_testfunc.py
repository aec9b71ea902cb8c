"""Dual numbers and random test functions agree with plain maths and finite differences."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from grader.child.operations import BUILTIN
from grader.child.protocol import Chunk, Load
from grader.judge.testfunc import Dual, named_function, random_function

_UNARY = sorted(n for n, op in BUILTIN.items() if op.arity == 1)
_BINARY = sorted(n for n, op in BUILTIN.items() if op.arity == 2)

POINTS = [-3.0, -2.2, -1.0, -0.31, 0.0, 0.25, 0.9, 1.7, 3.0]
H = 1e-6


def central_difference(f: Any, point: list[float], i: int) -> float:
    """Approximate df/dx_i from values only."""
    up, down = list(point), list(point)
    up[i] += H
    down[i] -= H
    return (f.at(*up).value - f.at(*down).value) / (2 * H)


def assert_derivatives_match(f: Any, point: list[float]) -> None:
    exact = f.at(*point)
    assert len(exact.d) == len(point)
    for i in range(len(point)):
        approx = central_difference(f, point, i)
        assert exact.d[i] == pytest.approx(approx, rel=1e-5, abs=1e-6), (f.describe(), point, i)


REFERENCE = {
    "neg": lambda v: -v,
    "square": lambda v: v * v,
    "sin": math.sin,
    "cos": math.cos,
    "exp": math.exp,
    "tanh": math.tanh,
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "softplus": lambda v: math.log(1 + math.exp(v)),
}


def test_every_unary_op_has_a_reference() -> None:
    assert set(REFERENCE) == set(_UNARY)


@pytest.mark.parametrize("op", sorted(_UNARY))
@pytest.mark.parametrize("point", POINTS)
def test_unary_op_value_and_derivative(op: str, point: float) -> None:
    f = named_function(op, {"op": op, "args": [{"var": 0}]})
    assert f.at(point).value == pytest.approx(REFERENCE[op](point), rel=1e-12, abs=1e-12)
    assert_derivatives_match(f, [point])


@pytest.mark.parametrize("op", ["sigmoid", "softplus"])
@pytest.mark.parametrize("point", [-800.0, -40.0, 40.0, 800.0])
def test_sigmoid_and_softplus_do_not_overflow_far_out(op: str, point: float) -> None:
    value = named_function(op, {"op": op, "args": [{"var": 0}]}).at(point)
    assert math.isfinite(value.value) and math.isfinite(value.d[0])


@pytest.mark.parametrize("op", sorted(_BINARY))
@pytest.mark.parametrize("point", [(-2.0, 0.5), (0.0, 0.0), (1.3, -2.7), (3.0, 3.0)])
def test_binary_op_partials(op: str, point: tuple[float, float]) -> None:
    f = named_function(op, {"op": op, "args": [{"var": 0}, {"var": 1}]}, arity=2)
    x, y = point
    expected = {"add": x + y, "sub": x - y, "mul": x * y}[op]
    assert f.at(x, y).value == pytest.approx(expected)
    assert_derivatives_match(f, list(point))


def test_constants_in_the_tree_have_no_derivative() -> None:
    f = named_function("c", {"op": "mul", "args": [1.5, {"op": "sin", "args": [{"var": 0}]}]})
    value = f.at(0.4)
    assert value.value == pytest.approx(1.5 * math.sin(0.4))
    assert value.d == pytest.approx((1.5 * math.cos(0.4),))


def test_dual_arithmetic_follows_the_sum_product_rules() -> None:
    a = Dual(2.0, (1.0, 0.0))
    b = Dual(-3.0, (0.0, 1.0))
    assert a + b == Dual(-1.0, (1.0, 1.0))
    assert a - b == Dual(5.0, (1.0, -1.0))
    assert a * b == Dual(-6.0, (-3.0, 2.0))
    assert a * 4 == Dual(8.0, (4.0, 0.0))
    assert 4 * a == Dual(8.0, (4.0, 0.0))
    assert a + 1.5 == Dual(3.5, (1.0, 0.0))
    assert a - 0.5 == Dual(1.5, (1.0, 0.0))
    assert a.chain(7.0, 3.0) == Dual(7.0, (3.0, 0.0))


def test_dual_refuses_mismatched_dimensions() -> None:
    with pytest.raises(ValueError):
        Dual(1.0, (1.0,)) + Dual(1.0, (1.0, 0.0))


def _variables(node: Any) -> set[int]:
    if isinstance(node, (int, float)):
        return set()
    if "var" in node:
        return {node["var"]}
    return set().union(*(_variables(a) for a in node["args"]))


@pytest.mark.parametrize("arity", [1, 2])
@pytest.mark.parametrize("seed", range(40))
def test_random_function_derivatives_match_finite_differences(arity: int, seed: int) -> None:
    f = random_function(random.Random(seed), arity=arity)
    assert f.arity == arity
    assert _variables(f.expr) == set(range(arity))
    points = random.Random(1000 + seed)
    for _ in range(6):
        point = [points.uniform(-3, 3) for _ in range(arity)]
        value = f.at(*point)
        # Bounded on [-3, 3]: no overflow for the child's float32.
        assert math.isfinite(value.value) and abs(value.value) < 100, f.describe()
        assert_derivatives_match(f, point)


@pytest.mark.parametrize("seed", range(20))
def test_random_function_of_two_inputs_depends_on_both(seed: int) -> None:
    f = random_function(random.Random(seed), arity=2)
    points = random.Random(seed)
    grads = [f.at(points.uniform(-3, 3), points.uniform(-3, 3)).d for _ in range(8)]
    # A gradient of zeros must not pass for either input.
    assert any(abs(g[0]) > 1e-3 for g in grads)
    assert any(abs(g[1]) > 1e-3 for g in grads)


@pytest.mark.parametrize("arity", [1, 2])
def test_random_function_is_deterministic_for_a_seed(arity: int) -> None:
    for seed in range(25):
        first = random_function(random.Random(seed), arity=arity)
        again = random_function(random.Random(seed), arity=arity)
        assert first == again
        assert first.describe() == again.describe()
        assert first.spec() == again.spec()
    drawn = {random_function(random.Random(s), arity=arity).describe() for s in range(25)}
    assert len(drawn) > 20, "different seeds draw different functions"


def test_spec_and_describe() -> None:
    f = named_function(
        "demo",
        {
            "op": "add",
            "args": [
                {"op": "square", "args": [{"var": 0}]},
                {"op": "mul", "args": [2.0, {"op": "tanh", "args": [{"var": 1}]}]},
            ],
        },
        arity=2,
    )
    assert f.spec() == {"$fn": {"kind": "expr", "expr": f.expr, "name": "demo"}}
    assert f.describe() == "(x ** 2 + (2.0 * torch.tanh(y)))"


# -- one table for both ends ------------------------------------------------------------
def _runtime(added: dict[str, Any] | None = None) -> Any:
    """A child runtime in this process, with the exercise's operations loaded."""
    pytest.importorskip("torch")
    from grader.child.runner import Runtime

    runtime = Runtime()
    runtime.load(Load((Chunk("exercise.py", ""),), added or {}))
    return runtime


@pytest.mark.parametrize("op", sorted(BUILTIN))
def test_child_and_judge_agree_on_every_builtin_operation(op: str) -> None:
    torch = pytest.importorskip("torch")

    runtime = _runtime()
    arity = BUILTIN[op].arity
    f = named_function(op, {"op": op, "args": [{"var": i} for i in range(arity)]}, arity=arity)
    built = runtime.build_function(f.spec()["$fn"])
    for point in [(-2.2, 0.7), (0.25, -1.3), (1.7, 3.0)]:
        inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point[:arity]]
        out = built(*inputs)
        out.backward()
        exact = f.at(*point[:arity])
        assert out.item() == pytest.approx(exact.value, rel=1e-9, abs=1e-12), op
        for tensor, d in zip(inputs, exact.d, strict=True):
            assert tensor.grad is not None
            assert tensor.grad.item() == pytest.approx(d, rel=1e-9, abs=1e-12)


def test_an_exercise_adds_an_operation_at_both_ends(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    from grader.course import content
    from grader.course.content import ExerciseContent

    checks = tmp_path / "checks" / "08_cube"
    checks.mkdir(parents=True)
    (checks / "operations.toml").write_text(
        '[cube]\nvalue = "a ** 3"\nslopes = ["3 * a ** 2"]\ntorch = "a ** 3"\nshow = "{a} ** 3"\n'
    )
    data = ExerciseContent.load(checks, tmp_path / "templates")
    assert data.wire() == {"cube": {"arity": 1, "torch": "a ** 3"}}
    runtime = _runtime(data.wire())
    with content.using(data):
        f = named_function("c", {"op": "cube", "args": [{"op": "sin", "args": [{"var": 0}]}]})
        assert f.describe() == "torch.sin(x) ** 3"
        exact = f.at(0.8)
        spec = f.spec()
    x = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    out = runtime.build_function(spec["$fn"])(x)
    out.backward()
    assert out.item() == pytest.approx(exact.value) and x.grad is not None
    assert x.grad.item() == pytest.approx(exact.d[0])
    assert exact.d[0] == pytest.approx(3 * math.sin(0.8) ** 2 * math.cos(0.8))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[Cube]\nvalue = "a"\nslopes = ["1"]\ntorch = "a"\n', "lower case"),
        ('[cube]\nvalue = "a"\ntorch = "a"\n', "slopes"),
        ('[cube]\nvalue = "a ** "\nslopes = ["1"]\ntorch = "a"\n', "not an expression"),
        ('[sin]\nvalue = "a"\nslopes = ["1"]\ntorch = "a"\n', "built-in"),
    ],
)
def test_a_malformed_operation_is_a_one_line_course_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    from grader.course.content import ContentError, ExerciseContent

    (tmp_path / "operations.toml").write_text(text)
    with pytest.raises(ContentError, match=problem):
        ExerciseContent.load(tmp_path, tmp_path / "templates")


def test_an_operation_the_exercise_never_defined_is_the_checks_error() -> None:
    # Sent to the child, it would fail at the student's f(x) and read as their error.
    f = named_function("c", {"op": "cube", "args": [{"var": 0}]})
    with pytest.raises(LookupError, match="operation 'cube' of c is neither built in"):
        f.spec()
