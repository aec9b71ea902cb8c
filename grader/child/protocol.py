"""The messages between the judge and the child: one class per request and per reply.

The only place a message key is written. The judge builds requests here and
reads every reply here; the child reads requests here and writes its replies
here; ``grader.child.wire`` describes the values inside them. Standard
library only: the child imports this inside its confinement.

A reply is read as hostile input: ``read_*`` keeps what an honest child can
send and raises ``wire.Malformed`` for anything else (a count that is not a
whole number, one argument id too many, a list where an object belongs).
The values themselves (what a function returned, its arguments after the
call) stay in wire form, for ``grader.judge.answers.decode``.

Requests, one JSON object per line::

  {"op": "hello"}   first: the child is confined and ready; the reply says how
  {"op": "load", "chunks": [{"name": "exercise.py", "source": "..."}],
   "operations": {"cube": {"arity": 1, "torch": "a ** 3"}}}
  {"op": "call", "function": "f", "args": [...], "kwargs": {...},
   "then": [{"backward": [1]}], "trace": false, "grad_enabled": true}

Replies: ``{"ok": true, ...}`` or ``{"ok": false, "error": {"kind": ..., ...}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from grader.child import wire

__all__ = [
    "Op",
    "ErrorKind",
    "Chunk",
    "Hello",
    "Load",
    "Call",
    "Request",
    "encode_request",
    "read_request",
    "error",
    "HelloReply",
    "LoadReply",
    "CallReply",
    "encode_reply",
    "failed",
    "step_outcome",
    "read_hello",
    "read_load",
    "read_call",
    "read_versions",
    "read_graph",
]


class Op(str, Enum):
    """What the judge asks of the child."""

    HELLO = "hello"
    LOAD = "load"
    CALL = "call"


class ErrorKind(str, Enum):
    """Why the child answered ``ok: false``: the kinds the hints tell apart."""

    EXCEPTION = "exception"  # the student's code raised
    SYNTAX = "syntax"  # the file does not parse
    EXIT = "exit"  # sys.exit() or SystemExit
    MEMORY = "memory"  # MemoryError, or torch could not allocate
    MISSING_FUNCTION = "missing_function"  # no function of that name
    UNREADABLE = "unreadable"  # it returned something with no numbers to read
    PROTOCOL = "protocol"  # the request made no sense to the child
    TOO_LARGE = "too_large"  # what it returned is more than a reply may carry


def error(kind: ErrorKind, message: str, **details: Any) -> dict[str, Any]:
    """Describe a failure for a reply's ``error`` (``type``, ``line``, ``file``, ...)."""
    return {"kind": kind.value, "message": message, **details}


# -- requests -------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """One piece of the submission's source: a file, or a notebook's code cells."""

    name: str
    source: str
    notebook: bool = False  # from a notebook: ``display`` exists, as in a kernel
    ran_in_kernel: bool = False  # cells after one that raised still run, as in a kernel


@dataclass(frozen=True)
class Hello:
    """Ask whether the child is confined and ready, before any student code runs."""


@dataclass(frozen=True)
class Load:
    """Run the submission's source; ``operations`` are the exercise's own for unseen functions."""

    chunks: tuple[Chunk, ...]
    operations: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """Call one of the student's functions with wire-form arguments.

    ``then`` lists follow-up steps on the returned value (``{"backward": [i, ...]}``:
    backward on that item), ``trace`` records every torch operation with its grad
    mode, ``evidence`` records the graph (a replay, for ``grader.judge.causes``).
    """

    function: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    then: tuple[dict[str, Any], ...] = ()
    trace: bool = False
    grad_enabled: bool = True
    evidence: bool = False

    def again(self, **changes: Any) -> Call:
        """Return the same call with some fields changed (a repeat without its trace)."""
        return replace(self, **changes)


Request = Hello | Load | Call


def encode_request(request: Request) -> dict[str, Any]:
    """Return the JSON object the judge sends for ``request``."""
    if isinstance(request, Hello):
        return {"op": Op.HELLO.value}
    if isinstance(request, Load):
        chunks = []
        for chunk in request.chunks:
            data: dict[str, Any] = {"name": chunk.name, "source": chunk.source}
            if chunk.notebook:
                data["notebook"] = True
            if chunk.ran_in_kernel:
                data["ran_in_kernel"] = True
            chunks.append(data)
        return {"op": Op.LOAD.value, "chunks": chunks, "operations": dict(request.operations)}
    data = {
        "op": Op.CALL.value,
        "function": request.function,
        "args": list(request.args),
        "kwargs": dict(request.kwargs),
        "then": list(request.then),
        "trace": request.trace,
        "grad_enabled": request.grad_enabled,
    }
    if request.evidence:
        data["evidence"] = True
    return data


def read_request(data: Any) -> Request:
    """Read a request on the child's side; raise ``wire.Malformed`` for one it cannot follow.

    The judge is trusted, so this guards against its mistakes, not attacks:
    what it checks is that every field has the type the child will use.
    """
    if not isinstance(data, dict):
        raise wire.Malformed("a request is a JSON object")
    op = data.get("op")
    if op == Op.HELLO.value:
        return Hello()
    if op == Op.LOAD.value:
        chunks = data.get("chunks")
        if not isinstance(chunks, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("name"), str)
            and isinstance(c.get("source"), str)
            for c in chunks
        ):
            raise wire.Malformed("load: chunks must be a list of {name, source}")
        operations = data.get("operations") or {}
        if not isinstance(operations, dict):
            raise wire.Malformed("load: operations must be an object")
        return Load(
            tuple(
                Chunk(c["name"], c["source"], bool(c.get("notebook")), bool(c.get("ran_in_kernel")))
                for c in chunks
            ),
            operations,
        )
    if op == Op.CALL.value:
        function, args, kwargs, then = (
            data.get("function"),
            data.get("args", []),
            data.get("kwargs", {}),
            data.get("then", []),
        )
        if not isinstance(function, str):
            raise wire.Malformed("call: function must be a name")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise wire.Malformed("call: args must be a list and kwargs an object")
        if not isinstance(then, list) or not all(isinstance(s, dict) for s in then):
            raise wire.Malformed("call: then must be a list of steps")
        return Call(
            function,
            tuple(args),
            kwargs,
            tuple(then),
            trace=bool(data.get("trace")),
            grad_enabled=bool(data.get("grad_enabled", True)),
            evidence=bool(data.get("evidence")),
        )
    raise wire.Malformed(f"unknown op {str(op)[:40]!r}")


# -- replies --------------------------------------------------------------


@dataclass
class HelloReply:
    """How far the child got in confining itself, as it says (shown, never trusted)."""

    sandbox: dict[str, Any]


@dataclass
class LoadReply:
    """Whether the source ran; its functions; whether grad mode was still on after it."""

    ok: bool
    functions: list[str] = field(default_factory=list)
    grad_enabled: bool = True
    error: dict[str, Any] | None = None


@dataclass
class CallReply:
    """What one call gave back. ``value`` and ``args`` are in wire form (``wire.read``).

    ``args`` are the arguments as they were after the call, ``arg_ids`` and
    ``arg_grad_ids`` the ids of them and their ``.grad`` in the child,
    ``arg_versions`` their version counters before the call; the counts and
    ``ops`` are evidence of how the function computed; ``then`` the outcome of
    each follow-up step; ``graph`` the evidence a replay asked for.
    """

    ok: bool
    value: Any = None
    error: dict[str, Any] | None = None
    args: list[Any] = field(default_factory=list)
    arg_ids: list[int] = field(default_factory=list)
    arg_grad_ids: list[int | None] = field(default_factory=list)
    arg_versions: list[list[int] | None] = field(default_factory=list)
    backward_passes: int = 0
    tripwire_backwards: int = 0
    grad_enabled_after: bool = True
    ops: list[tuple[str, bool]] = field(default_factory=list)
    then: list[dict[str, Any]] = field(default_factory=list)
    graph: dict[str, Any] | None = None

    def evidence(self) -> dict[str, Any]:
        """Return what every reply says of how the call went, as ``CallResult`` keeps it."""
        return {
            "arg_ids": self.arg_ids,
            "arg_grad_ids": self.arg_grad_ids,
            "grad_enabled_after": self.grad_enabled_after,
            "backward_passes": self.backward_passes,
            "tripwire_backwards": self.tripwire_backwards,
        }


def encode_reply(reply: HelloReply | LoadReply | CallReply) -> dict[str, Any]:
    """Return the JSON object the child writes for ``reply``."""
    if isinstance(reply, HelloReply):
        return {"ok": True, "sandbox": reply.sandbox}
    if isinstance(reply, LoadReply):
        if not reply.ok:
            return {"ok": False, "error": reply.error or {}}
        return {"ok": True, "functions": reply.functions, "grad_enabled": reply.grad_enabled}
    data: dict[str, Any] = {"ok": reply.ok}
    if reply.ok:
        data["value"] = reply.value
        data["then"] = reply.then
    else:
        data["error"] = reply.error or {}
    data.update(args=reply.args, **reply.evidence())
    # Sent only when asked for or when not the usual, to keep replies small.
    if any(v is not None for v in reply.arg_versions):
        data["arg_versions"] = reply.arg_versions
    if reply.ops:
        data["ops"] = [list(op) for op in reply.ops]
    if reply.graph is not None:
        data["graph"] = reply.graph
    return data


def failed(error: dict[str, Any]) -> dict[str, Any]:
    """Return the reply of a request that failed before it could say more."""
    return {"ok": False, "error": error}


def step_outcome(error: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the outcome of one follow-up step: done, or the error it raised."""
    return {"ok": True} if error is None else {"ok": False, "error": error}


def read_hello(data: Any) -> HelloReply:
    """Read the child's hello; a sandbox report that is not an object reads as empty."""
    sandbox = data.get("sandbox") if isinstance(data, dict) else None
    return HelloReply(dict(sandbox) if isinstance(sandbox, dict) else {})


def read_load(data: Any) -> LoadReply:
    """Read the reply to a load."""
    if not isinstance(data, dict):
        raise wire.Malformed("a reply is a JSON object")
    if data.get("ok") is not True:
        return LoadReply(False, error=wire.read_error(data.get("error")))
    functions = data.get("functions", [])
    return LoadReply(
        True,
        [str(f)[:200] for f in functions[:1000]] if isinstance(functions, list) else [],
        grad_enabled=data.get("grad_enabled") is not False,
    )


def read_call(data: Any, call: Call) -> CallReply:
    """Read the reply to ``call``: every field checked against what was sent.

    A call that failed may say nothing of its arguments (no such function); one
    that returned says everything, or a check reading ``arg_ids[0]`` would crash
    and the checks be blamed.
    """
    if not isinstance(data, dict):
        raise wire.Malformed("a reply is a JSON object")
    ok = data.get("ok") is True
    failed_call = not ok
    args = _as_many(data.get("args", []), call.args, failed_call)
    return CallReply(
        ok=ok,
        value=data.get("value") if ok else None,
        error=None if ok else wire.read_error(data.get("error")),
        args=args,
        arg_ids=[
            wire.read_count(i) for i in _as_many(data.get("arg_ids", []), call.args, failed_call)
        ],
        arg_grad_ids=[
            None if i is None else wire.read_count(i)
            for i in _as_many(data.get("arg_grad_ids", []), call.args, failed_call)
        ],
        arg_versions=read_versions(data.get("arg_versions")),
        backward_passes=wire.read_count(data.get("backward_passes", 0)),
        tripwire_backwards=wire.read_count(data.get("tripwire_backwards", 0)),
        grad_enabled_after=data.get("grad_enabled_after") is not False,
        ops=[(str(o[0])[:200], bool(o[1])) for o in _list(data.get("ops", []))[: wire.MAX_OPS]],
        then=[_step(t) for t in _as_many(data.get("then", []), call.then, failed_call)],
        graph=read_graph(data.get("graph")) if call.evidence else None,
    )


def _list(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise wire.Malformed("a list expected")
    return items


def _as_many(items: Any, sent: Any, or_none: bool = False) -> list[Any]:
    """Return the child's list of one entry per item sent; any other count is forged.

    ``or_none``: the list may also be empty (a call that failed).
    """
    if not isinstance(items, list) or len(items) != len(sent) and not (or_none and not items):
        raise wire.Malformed("not one entry per item sent")
    return items


def _step(step: Any) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise wire.Malformed("a step is an object")
    return {"ok": step.get("ok") is True, "error": wire.read_error(step.get("error"))}


def read_versions(data: Any) -> list[list[int] | None]:
    """Check the child's ``arg_versions``: per argument None or [version, grad's version]."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise wire.Malformed("arg_versions")
    out: list[list[int] | None] = []
    for entry in data[:100]:
        if entry is None:
            out.append(None)
        elif isinstance(entry, list) and len(entry) == 2:
            out.append([_whole(v) for v in entry])
        else:
            raise wire.Malformed("arg_versions")
    return out


def read_graph(data: Any) -> dict[str, Any]:
    """Check the child's ``graph`` evidence (grader.child.evidence); {} when absent or bad.

    Evidence only chooses a hint's words, so a malformed one is dropped, not punished.
    """
    if not isinstance(data, dict):
        return {}
    dtypes = data.get("dtypes")
    broadcasts = data.get("broadcasts")
    casts = data.get("integer_casts")
    try:
        return {
            "dtypes": [str(d)[:20] for d in dtypes[:16]] if isinstance(dtypes, list) else [],
            "broadcasts": [
                [str(b[0])[:40], [_whole(n) for n in b[1][:8]], [_whole(n) for n in b[2][:8]]]
                for b in (broadcasts[:3] if isinstance(broadcasts, list) else [])
            ],
            "integer_casts": _whole(casts) if casts is not None else 0,
        }
    except (wire.Malformed, TypeError, IndexError, KeyError, ValueError):
        return {}


def _whole(v: Any) -> int:
    n = wire.number(v)
    if not math.isfinite(n) or abs(n) > 2**53:
        raise wire.Malformed("count expected")
    return int(n)
