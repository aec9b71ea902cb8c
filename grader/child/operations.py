"""The operations an unseen test function is built from: one table for both ends.

The judge evaluates a test function's expression tree with dual numbers (the
``value`` and ``slopes`` of each operation, plain-Python expressions over
``math``); the child builds the same tree from torch (``torch``, an expression
over ``torch`` evaluated only in the child). Keeping both in one entry is what
makes them agree: a new operation is one entry, never two edits in two files.

An exercise adds operations in ``checks/NN_name/operations.toml`` (same keys as
an entry below). The judge reads that file; the child cannot (the sandbox hides
the course), so the judge sends the ``torch`` expressions over the wire in the
``load`` request, before any student code runs. They come from the course
author, never from a student, and the child compiles them.

This module must not import torch: the judge imports it too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Operation", "BUILTIN", "parse_table", "torch_callables", "sigmoid", "softplus"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ARGS = ("a", "b")


def sigmoid(v: float) -> float:
    """Return 1 / (1 + exp(-v)) without overflow far from 0."""
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def softplus(v: float) -> float:
    """Return log(1 + exp(v)) without overflow far from 0."""
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


# What a judge-side expression may use: the operand names, math, and the two helpers.
_MATH_NAMES: dict[str, Any] = {
    "__builtins__": {},
    "math": math,
    "sigmoid": sigmoid,
    "softplus": softplus,
    "abs": abs,
    "max": max,
    "min": min,
}


@dataclass(frozen=True)
class Operation:
    """One operation: its value and partial derivatives in plain Python, its torch form."""

    name: str
    value: str  # e.g. "math.sin(a)"
    slopes: tuple[str, ...]  # one partial derivative per operand, e.g. ("math.cos(a)",)
    torch: str  # e.g. "torch.sin(a)"; evaluated in the child only
    show: str  # how a hint writes it, e.g. "torch.sin({a})"
    # Tame on inputs in [-3, 3] when nested twice: random_function may draw it.
    bounded: bool = False

    @property
    def arity(self) -> int:
        return len(self.slopes)

    def wire(self) -> dict[str, Any]:
        """Return what the child needs to build this operation: its torch form."""
        return {"arity": self.arity, "torch": self.torch}

    def evaluate(self) -> tuple[Callable[..., float], tuple[Callable[..., float], ...]]:
        """Compile value and slopes into functions of the operands (judge side)."""
        return _compiled(self.value, self.slopes)


_CACHE: dict[tuple[str, tuple[str, ...]], Any] = {}


def _compiled(
    value: str, slopes: tuple[str, ...]
) -> tuple[Callable[..., float], tuple[Callable[..., float], ...]]:
    key = (value, slopes)
    if key not in _CACHE:
        args = ", ".join(_ARGS[: len(slopes)])
        made = []
        for expr in (value, *slopes):
            # A lambda over the operands, so a check's thousands of evaluations
            # cost one call each, not one eval each.
            made.append(eval(f"lambda {args}: {expr}", dict(_MATH_NAMES)))  # noqa: S307
        _CACHE[key] = (made[0], tuple(made[1:]))
    result: tuple[Callable[..., float], tuple[Callable[..., float], ...]] = _CACHE[key]
    return result


def _op(
    name: str, value: str, slopes: tuple[str, ...], torch: str, show: str, **kw: Any
) -> Operation:
    return Operation(name=name, value=value, slopes=slopes, torch=torch, show=show, **kw)


BUILTIN: dict[str, Operation] = {
    op.name: op
    for op in (
        _op("add", "a + b", ("1.0", "1.0"), "a + b", "({a} + {b})"),
        _op("sub", "a - b", ("1.0", "-1.0"), "a - b", "({a} - {b})"),
        _op("mul", "a * b", ("b", "a"), "a * b", "({a} * {b})"),
        _op("neg", "-a", ("-1.0",), "-a", "-{a}"),
        _op("square", "a ** 2", ("2.0 * a",), "a ** 2", "{a} ** 2"),
        _op("sin", "math.sin(a)", ("math.cos(a)",), "torch.sin(a)", "torch.sin({a})", bounded=True),
        _op(
            "cos", "math.cos(a)", ("-math.sin(a)",), "torch.cos(a)", "torch.cos({a})", bounded=True
        ),
        _op("exp", "math.exp(a)", ("math.exp(a)",), "torch.exp(a)", "torch.exp({a})"),
        _op(
            "tanh",
            "math.tanh(a)",
            ("1.0 - math.tanh(a) ** 2",),
            "torch.tanh(a)",
            "torch.tanh({a})",
            bounded=True,
        ),
        _op(
            "sigmoid",
            "sigmoid(a)",
            ("sigmoid(a) * (1 - sigmoid(a))",),
            "torch.sigmoid(a)",
            "torch.sigmoid({a})",
            bounded=True,
        ),
        _op(
            "softplus",
            "softplus(a)",
            ("sigmoid(a)",),
            "torch.nn.functional.softplus(a)",
            "torch.softplus({a})",
            bounded=True,
        ),
    )
}


class OperationError(ValueError):
    """An exercise's operations.toml entry is malformed (a course bug, told in one line)."""


def parse_table(raw: Mapping[str, Any], where: str = "operations.toml") -> dict[str, Operation]:
    """Validate an exercise's operation entries (``[name]`` tables) into Operations."""
    table: dict[str, Operation] = {}
    for name, entry in raw.items():
        if not _NAME.match(name) or not isinstance(entry, Mapping):
            raise OperationError(f"{where}: [{name}] must be a table named in lower case")
        slopes = entry.get("slopes")
        fields = (entry.get("value"), entry.get("torch"), entry.get("show", ""))
        if (
            not isinstance(slopes, list)
            or len(slopes) not in (1, 2)
            or not all(isinstance(s, str) for s in (*slopes, *fields))
        ):
            raise OperationError(
                f"{where}: [{name}] needs value, torch (strings) and slopes "
                "(a list of one or two strings)"
            )
        value, torch, show = fields
        operands = "".join("{" + a + "}" for a in _ARGS[: len(slopes)])
        op = Operation(
            name=name,
            value=str(value),
            slopes=tuple(slopes),
            torch=str(torch),
            show=str(show) or f"{name}({operands.replace('}{', '}, {')})",
            bounded=entry.get("bounded") is True,
        )
        for expr in (op.value, *op.slopes, op.torch):
            try:
                compile(expr, where, "eval")
            except SyntaxError as exc:
                raise OperationError(
                    f"{where}: [{name}] {expr!r} is not an expression: {exc.msg}"
                ) from None
        table[name] = op
    return table


def torch_callables(wire: Mapping[str, Any], torch: Any) -> dict[str, Callable[..., Any]]:
    """Build the child's operations: the built-in ones and those the judge sent."""
    entries = {name: op.wire() for name, op in BUILTIN.items()}
    entries.update(wire)
    made: dict[str, Callable[..., Any]] = {}
    for name, entry in entries.items():
        arity = int(entry["arity"])
        args = ", ".join(_ARGS[:arity])
        # The expression is the course author's (as trusted as the checks), never a
        # student's. It keeps Python's builtins: torch's operators, run under the
        # evidence's dispatch mode, import lazily through the calling frame's builtins.
        made[name] = eval(f"lambda {args}: {entry['torch']}", {"torch": torch})  # noqa: S307
    return made
