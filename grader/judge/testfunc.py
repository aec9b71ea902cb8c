"""Make differentiable functions the student has never seen, and know their derivatives.

A check sends a function to the submission as an expression tree (plain data);
the child builds it from torch operations. The judge evaluates the same tree
here with dual numbers in float64, so it knows the exact gradient without
torch and without trusting anything the child says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from grader.child import wire
from grader.child.operations import BUILTIN, Operation
from grader.course import content

__all__ = ["Dual", "TestFunction", "apply", "random_function", "named_function"]


@dataclass(frozen=True)
class Dual:
    """A value with its derivatives along each input: ``value + sum(d_i * eps_i)``."""

    value: float
    d: tuple[float, ...]

    def _lift(self, other: Dual | float) -> Dual:
        return other if isinstance(other, Dual) else Dual(float(other), (0.0,) * len(self.d))

    def __add__(self, other: Dual | float) -> Dual:
        o = self._lift(other)
        return Dual(self.value + o.value, tuple(a + b for a, b in zip(self.d, o.d, strict=True)))

    def __sub__(self, other: Dual | float) -> Dual:
        return self + (-1.0) * self._lift(other)

    def __mul__(self, other: Dual | float) -> Dual:
        o = self._lift(other)
        return Dual(
            self.value * o.value,
            tuple(a * o.value + self.value * b for a, b in zip(self.d, o.d, strict=True)),
        )

    __rmul__ = __mul__

    def chain(self, value: float, slope: float) -> Dual:
        """Apply a scalar function with the given value and derivative at self.value."""
        return Dual(value, tuple(slope * a for a in self.d))


def apply(op: Operation, args: list[Dual]) -> Dual:
    """Apply one operation of the table to dual numbers: its value, and the chain rule."""
    value, slopes = op.evaluate()
    points = [a.value for a in args]
    if len(args) == 1:
        return args[0].chain(value(*points), slopes[0](*points))
    (a, b), (da, db) = args, (slope(*points) for slope in slopes)
    return Dual(value(*points), tuple(da * x + db * y for x, y in zip(a.d, b.d, strict=True)))


def _bounded() -> tuple[str, ...]:
    # Unary operations that stay tame on inputs in [-3, 3] when nested twice, in
    # the table's order: the order fixes which one a seed draws.
    return tuple(n for n, op in BUILTIN.items() if op.bounded and op.arity == 1)


@dataclass(frozen=True)
class TestFunction:
    """An element-wise function of ``arity`` tensors, as data for the child and maths here.

    Example: ``f = random_function(rng)``; pass ``f.spec()`` to the student's
    function, compare with ``f.at(x).d[0]`` and show ``f.describe()`` in a hint.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    expr: Any
    arity: int = 1

    def spec(self) -> dict[str, Any]:
        """Return the argument spec that makes the child build this function."""
        # An operation the exercise never defined would fail in the child, at the
        # student's f(x), and read as their error: it is the check's, raised here.
        unknown = sorted(_operations_of(self.expr) - set(content.active().operations))
        if unknown:
            raise LookupError(
                f"operation {unknown[0]!r} of {self.name} is neither built in nor in the "
                "exercise's operations.toml"
            )
        return wire.function_argument(kind="expr", expr=self.expr, name=self.name)

    def at(self, *point: float) -> Dual:
        """Evaluate value and partial derivatives at one point (one scalar per input)."""
        n = len(point)
        inputs = [
            Dual(float(v), tuple(1.0 if j == i else 0.0 for j in range(n)))
            for i, v in enumerate(point)
        ]
        return self._eval(self.expr, inputs)

    def _eval(self, node: Any, inputs: list[Dual]) -> Dual:
        if isinstance(node, (int, float)):
            return Dual(float(node), (0.0,) * len(inputs))
        if "var" in node:
            return inputs[node["var"]]
        args = [self._eval(a, inputs) for a in node["args"]]
        return apply(content.active().operations[node["op"]], args)

    def describe(self) -> str:
        """Render the expression as readable Python-like text for hints."""
        return _render(self.expr)


def _operations_of(node: Any) -> set[str]:
    if not isinstance(node, dict) or "var" in node:
        return set()
    return {node["op"]}.union(*(_operations_of(a) for a in node.get("args", [])))


def _render(node: Any) -> str:
    if isinstance(node, (int, float)):
        return repr(node)
    if "var" in node:
        return ("x", "y", "z")[node["var"]]
    args = [_render(a) for a in node["args"]]
    return (
        content.active().operations[node["op"]].show.format(**dict(zip("ab", args, strict=False)))
    )


def named_function(name: str, expr: Any, arity: int = 1) -> TestFunction:
    """Wrap a hand-written expression tree, e.g. ``{"op": "sin", "args": [{"var": 0}]}``.

    Numbers in the tree are constants, ``{"var": i}`` the i-th input; ``op``
    names a built-in operation or one of the exercise's ``operations.toml``.
    Example: ``named_function("cube", {"op": "cube", "args": [{"var": 0}]})``.
    """
    return TestFunction(name=name, expr=expr, arity=arity)


def random_function(rng: random.Random, arity: int = 1) -> TestFunction:
    """Draw a small random composition that no student has seen, bounded on [-3, 3].

    Example: ``f = random_function(rng, arity=2)`` for a function of two tensors.
    """

    def var() -> Any:
        return {"var": rng.randrange(arity)}

    def leaf() -> Any:
        node = {"op": rng.choice(_bounded()), "args": [var()]}
        if rng.random() < 0.5:
            node = {"op": "mul", "args": [round(rng.uniform(0.5, 2.0), 3), node]}
        return node

    expr: Any = {"op": rng.choice(("add", "mul", "sub")), "args": [leaf(), leaf()]}
    if arity == 2:
        # Both inputs must matter, or a gradient of zeros would pass for one of them.
        expr = {
            "op": "add",
            "args": [
                {"op": rng.choice(_bounded()), "args": [{"var": 0}]},
                {"op": "mul", "args": [expr, {"op": "sin", "args": [{"var": 1}]}]},
            ],
        }
    else:
        expr = {"op": "add", "args": [expr, {"op": rng.choice(_bounded()), "args": [{"var": 0}]}]}
    return TestFunction(name="unseen", expr=expr, arity=arity)
