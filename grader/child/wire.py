"""The wire format between the judge and the child: one JSON object per line, values tagged.

One definition for both ends. The child (``grader.child.runner``) reads the
judge's arguments and writes what the student's code returned with it; the
judge (``grader.judge.answers``, ``grader.check``) builds arguments and reads the
replies with it, validating every field, since a hostile submission can
write anything on the pipe. Standard library only: the child imports this
inside its confinement, and tensors are built and described by the caller.

A value is JSON as it is, except a tuple ``{"$tuple": [...]}``, a dict
``{"$dict": [[key, value], ...]}``, a tensor ``{"$tensor": {...}}``, an
unseen function ``{"$fn": {...}}`` (judge to child only) and any other
object ``{"$object": {"type": ..., "repr": ...}}`` (child to judge only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "TUPLE",
    "DICT",
    "TENSOR",
    "FUNCTION",
    "OBJECT",
    "MAX_ELEMENTS",
    "MAX_TEXT",
    "MAX_TRACEBACK",
    "MAX_OPS",
    "MAX_REPLY",
    "MAX_ITEMS",
    "items",
    "too_large",
    "Malformed",
    "write",
    "read_argument",
    "tensor_argument",
    "function_argument",
    "read",
    "read_count",
    "read_error",
    "same_answer",
    "number",
]

TUPLE = "$tuple"
DICT = "$dict"
TENSOR = "$tensor"
FUNCTION = "$fn"
OBJECT = "$object"

MAX_ELEMENTS = 100_000  # a tensor reply larger than this is cut: the judge never needs more
MAX_TEXT = 2_000
MAX_TRACEBACK = 8 * MAX_TEXT  # the student's frames of a traceback, as the child cuts them
MAX_OPS = 2_000  # torch operations recorded per call
MAX_DIMENSIONS = 64  # torch's own limit on a tensor's dimensions
# The bounds of one reply line. An honest reply holds at most a few tensors of 100,000
# numbers (the child cuts each there), about 2 MB apiece; past 16 MiB, or past what JSON
# may build from 2,000,000 values (about 50 MB in the judge), a line costs the judge's
# memory. The child measures its own reply against them and sends ``too_large`` instead;
# a line past them that reaches the judge was not written honestly.
MAX_REPLY = 16 * 1024 * 1024
MAX_ITEMS = 2_000_000

T = TypeVar("T")
O = TypeVar("O")  # noqa: E741


class Malformed(Exception):
    """A reply that breaks the format: the child did not write it honestly."""


# -- the child's end ---------------------------------------------------------------
def write(value: Any, tensor: Callable[[Any], dict[str, Any] | None], depth: int = 0) -> Any:
    """Turn what the student's code returned into plain data.

    ``tensor`` describes a tensor, and returns None for anything else.
    """
    if depth > 20:
        return {OBJECT: {"type": "...", "repr": "(nested too deep)"}}
    described = tensor(value)
    if described is not None:
        return {TENSOR: described}
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return float(value)
        return value
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, tuple):
        return {TUPLE: [write(v, tensor, depth + 1) for v in value[:MAX_ELEMENTS]]}
    if isinstance(value, list):
        return [write(v, tensor, depth + 1) for v in value[:MAX_ELEMENTS]]
    if isinstance(value, dict):
        return {
            DICT: [
                [str(k)[:MAX_TEXT], write(v, tensor, depth + 1)]
                for k, v in list(value.items())[:1000]
            ]
        }
    return {OBJECT: {"type": type(value).__qualname__, "repr": safe_repr(value)}}


def read_argument(
    spec: Any, tensor: Callable[[dict[str, Any]], Any], function: Callable[[dict[str, Any]], Any]
) -> Any:
    """Turn one of the judge's arguments into a value; ``tensor`` and ``function`` build those."""
    if isinstance(spec, list):
        return [read_argument(s, tensor, function) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if TUPLE in spec:
        return tuple(read_argument(s, tensor, function) for s in spec[TUPLE])
    if TENSOR in spec:
        return tensor(spec[TENSOR])
    if FUNCTION in spec:
        return function(spec[FUNCTION])
    return {k: read_argument(v, tensor, function) for k, v in spec.items()}


def safe_repr(value: Any) -> str:
    """Return the repr of the student's object, even when its __repr__ raises."""
    try:
        return repr(value)[:MAX_TEXT]
    except BaseException:
        return f"<{type(value).__qualname__} whose repr() failed>"


def too_large(line: str) -> str:
    """Say how the encoded reply ``line`` is past what a reply may carry; "" when it is not."""
    values = items(line)
    if values > MAX_ITEMS:
        return f"{values:,} values, over the {MAX_ITEMS:,} a reply may carry"
    if len(line) + 1 > MAX_REPLY:  # json.dumps writes ASCII; the line ends in a newline
        return (
            f"{len(line) / 1024**2:.0f} MiB, over the {MAX_REPLY // 1024**2} MiB a reply may carry"
        )
    return ""


def items(line: str | bytes) -> int:
    """Count the values of a JSON line the way both ends do: its commas and colons."""
    if isinstance(line, bytes):
        return line.count(b",") + line.count(b":")
    return line.count(",") + line.count(":")


# -- the judge's end ---------------------------------------------------------------
def tensor_argument(
    data: Any, dtype: str, requires_grad: bool, grad: Any, ops: Sequence[str]
) -> dict[str, Any]:
    """Ask the child to build a tensor (and derive it further by ``ops``)."""
    return {
        TENSOR: {
            "data": data,
            "dtype": dtype,
            "requires_grad": requires_grad,
            "grad": grad,
            "ops": list(ops),
        }
    }


def function_argument(**spec: Any) -> dict[str, Any]:
    """Ask the child to build a function of ``kind`` (an expression, a probe...)."""
    return {FUNCTION: spec}


def read(
    data: Any, tensor: Callable[..., T], opaque: Callable[[str, str], O], depth: int = 0
) -> Any:
    """Turn the child's JSON into checked values; raise Malformed for anything else.

    ``tensor`` receives a tensor's checked fields as keywords (its ``grad``
    already built the same way); ``opaque`` an object's type name and repr.
    """
    if depth > 30:
        raise Malformed("too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [read(v, tensor, opaque, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise Malformed("unexpected object")
    ((key, body),) = data.items()
    if key == TUPLE and isinstance(body, list):
        return tuple(read(v, tensor, opaque, depth + 1) for v in body)
    if key == DICT and isinstance(body, list):
        return {str(k): read(v, tensor, opaque, depth + 1) for k, v in body}
    if key == OBJECT and isinstance(body, dict):
        return opaque(str(body.get("type", "?")), str(body.get("repr", "?")))
    if key == TENSOR and isinstance(body, dict):
        return _read_tensor(body, tensor)
    raise Malformed("unknown tag")


def _read_tensor(body: dict[str, Any], tensor: Callable[..., T], nested: bool = False) -> T:
    raw = body.get("data")
    if isinstance(raw, (int, float, bool)):
        raw = [raw]
    if not isinstance(raw, list):
        raise Malformed("tensor data")
    shape = body.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise Malformed("tensor shape")
    # The child sends every number up to its cut, and never more: anything else is forged
    # (and ten million zeros would cost the judge a gigabyte to hold).
    if len(raw) != min(math.prod(shape), MAX_ELEMENTS):
        raise Malformed("tensor data does not match its shape")
    grad = body.get("grad")
    if nested and grad is not None:
        raise Malformed("a gradient has no gradient")
    return tensor(
        data=[_number(v) for v in raw],
        shape=shape,
        dtype=str(body.get("dtype"))[:MAX_TEXT],
        requires_grad=body.get("requires_grad") is True,
        is_leaf=body.get("is_leaf") is True,
        grad_fn=str(body["grad_fn"])[:MAX_TEXT] if body.get("grad_fn") is not None else None,
        grad=_read_tensor(grad, tensor, nested=True) if isinstance(grad, dict) else None,
        type=str(body.get("type"))[:MAX_TEXT],
        id=_address(body.get("id", 0)),
        storage=_address(body.get("storage", 0)),
        version=_version(body.get("version", 0)),
        inference=body.get("inference") is True,
    )


def number(v: Any) -> float:
    """Return a JSON number as a float; raise Malformed for anything else."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Malformed("number expected")
    return float(v)


_number = number


def _address(v: Any) -> int:
    """Read an id or address of the child's: a whole number (``"id": Infinity`` is forged)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**64:
        raise Malformed("an id must be a whole number")
    return v


def _version(v: Any) -> int:
    """Read a tensor's version counter: a whole number, or -1 (an inference tensor has none)."""
    if v == -1 and isinstance(v, int) and not isinstance(v, bool):
        return -1
    return read_count(v)


def read_count(v: Any, most: int = 2**63) -> int:
    """Read a count the child reports (backward passes): a whole number from 0 to ``most``."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= most:
        raise Malformed("a count must be a whole number")
    return v


def read_error(data: Any) -> dict[str, Any]:
    """Keep what a child's error description may hold: short texts and plain numbers.

    An honest child cuts a traceback at ``MAX_TRACEBACK`` characters and every
    other text at ``MAX_TEXT``; a forged one may send megabytes, or a list
    where a dict belongs. Whatever it sent, the judge stores no more than that.
    """
    if not isinstance(data, dict):
        return {}
    kept: dict[str, Any] = {}
    for key, value in list(data.items())[:20]:
        name = str(key)[:100]
        if isinstance(value, str):
            # The end of a traceback names the error; the start of any other text matters.
            kept[name] = value[-MAX_TRACEBACK:] if name == "traceback" else value[:MAX_TRACEBACK]
        elif value is None or isinstance(value, (bool, int)) and abs(value) < 2**53:
            kept[name] = value
        elif isinstance(value, (list, dict)) and len(json.dumps(value)) <= MAX_TRACEBACK:
            kept[name] = value  # small evidence: the hints read it defensively
    return kept


def same_answer(first: Any, second: Any, close: Callable[[float, float], bool]) -> bool:
    """Whether two replies hold the same answer (ids and addresses aside).

    ``close(actual, expected)`` compares two numbers.
    """
    if isinstance(first, dict) and isinstance(second, dict):
        if OBJECT in first:
            # A repr may show a memory address: compare what kind of object it is.
            return OBJECT in second and first[OBJECT].get("type") == second[OBJECT].get("type")
        # A version counter counts writes, not the answer: a repeat may count differently.
        keys = (first.keys() | second.keys()) - {"id", "storage", "version"}
        return all(same_answer(first.get(k), second.get(k), close) for k in keys)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(
            same_answer(a, b, close) for a, b in zip(first, second, strict=True)
        )
    if isinstance(first, float) and isinstance(second, (int, float)):
        # == first: a diverged run repeats its infinities exactly.
        return first == second or close(float(second), first)
    return bool(first == second)
