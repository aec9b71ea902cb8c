"""The judge-child protocol: every message round-trips, every malformed reply is refused.

Standard library only, like the protocol itself: these run without torch.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from grader.child import protocol, wire
from grader.child.protocol import (
    Call,
    CallReply,
    Chunk,
    ErrorKind,
    Hello,
    HelloReply,
    Load,
    LoadReply,
    encode_reply,
    encode_request,
    read_call,
    read_hello,
    read_load,
    read_request,
)

GRADER = Path(__file__).resolve().parents[2] / "grader"

REQUESTS = [
    Hello(),
    Load((Chunk("exercise.py", "def f():\n    return 1\n"),)),
    Load(
        (Chunk("cell 1", "x = 1", notebook=True, ran_in_kernel=True),),
        {"cube": {"arity": 1, "torch": "a ** 3"}},
    ),
    Call("f"),
    Call(
        "pair_grads",
        ({"$tensor": {"data": [1.0], "shape": [1]}}, 2),
        {"lr": 0.1},
        ({"backward": [0]},),
        trace=True,
        grad_enabled=False,
        evidence=True,
    ),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_every_request_reads_back_as_sent(request_: protocol.Request) -> None:
    # Through JSON text, as on the pipe.
    assert read_request(json.loads(json.dumps(encode_request(request_)))) == request_


def test_every_reply_reads_back_as_sent() -> None:
    call = Call("f", (1, 2), then=({"backward": []},))
    reply = CallReply(
        True,
        value=[1.0, 2.0],
        args=[1, 2],
        arg_ids=[11, 12],
        arg_grad_ids=[None, 5],
        arg_versions=[None, [1, -1]],
        backward_passes=1,
        tripwire_backwards=2,
        grad_enabled_after=False,
        ops=[("add", True)],
        then=[{"ok": True, "error": {}}],
    )
    on_the_pipe = json.loads(json.dumps(encode_reply(reply)))
    assert read_call(on_the_pipe, call) == reply
    loaded = LoadReply(True, ["f", "g"], grad_enabled=False)
    assert read_load(json.loads(json.dumps(encode_reply(loaded)))) == loaded
    hello = HelloReply({"namespaces": True, "seccomp": True})
    assert read_hello(encode_reply(hello)) == hello


def test_a_failed_call_may_say_nothing_of_its_arguments() -> None:
    failure = protocol.error(ErrorKind.MISSING_FUNCTION, "no function named f", function="f")
    reply = read_call(protocol.failed(failure), Call("f", (1,)))
    assert not reply.ok and reply.error == failure and reply.args == []


def test_error_kinds_are_the_strings_on_the_wire() -> None:
    # Replies compare kinds as text ("kind": "memory"): the enumeration is that text.
    assert ErrorKind.MEMORY == "memory"
    assert json.dumps(protocol.error(ErrorKind.SYNTAX, "bad")) == (
        '{"kind": "syntax", "message": "bad"}'
    )


def _honest() -> dict[str, Any]:
    return encode_reply(CallReply(True, value=1, args=[1], arg_ids=[7], arg_grad_ids=[None]))


@pytest.mark.parametrize(
    "forged",
    [
        {"arg_ids": [7, 8]},  # one id more than arguments sent
        {"arg_ids": [-1]},  # not a count
        {"arg_ids": [True]},  # a bool is not a count
        {"arg_ids": "7"},  # not a list
        {"args": []},  # a call that returned says what its arguments became
        {"backward_passes": 1e308},  # int(inf) in waiting
        {"backward_passes": "1"},
        {"tripwire_backwards": -3},
        {"arg_versions": [[1, 2, 3]]},
        {"arg_versions": [["x", 1]]},
        {"then": [1]},  # a step is an object
        {"ops": {"add": True}},
    ],
    ids=lambda forged: ",".join(forged),
)
def test_a_forged_reply_is_malformed(forged: dict[str, Any]) -> None:
    with pytest.raises((wire.Malformed, TypeError, IndexError)):
        read_call({**_honest(), **forged}, Call("f", (1,)))


@pytest.mark.parametrize("reply", [None, [], "ok", 3])
def test_a_reply_that_is_no_object_is_malformed(reply: Any) -> None:
    with pytest.raises(wire.Malformed):
        read_call(reply, Call("f"))
    with pytest.raises(wire.Malformed):
        read_load(reply)
    assert read_hello(reply) == HelloReply({})  # shown, never trusted: just empty


def test_an_oversized_error_is_cut_to_what_an_honest_child_sends() -> None:
    huge = {"ok": False, "error": {"kind": "exception", "message": "x" * 10**6}}
    reply = read_call(huge, Call("f"))
    assert reply.error is not None and len(reply.error["message"]) == wire.MAX_TRACEBACK


@pytest.mark.parametrize(
    "request_",
    [
        [],
        {"op": "dance"},
        {"op": "load"},
        {"op": "call"},
        {"op": "call", "function": "f", "args": {}},
    ],
)
def test_the_child_refuses_a_request_it_cannot_follow(request_: Any) -> None:
    with pytest.raises(wire.Malformed):
        read_request(request_)


def test_no_message_key_is_written_outside_the_protocol() -> None:
    # A request or reply written by hand somewhere else is how the two ends drift apart.
    keys = {
        "op",
        "ok",
        "chunks",
        "arg_ids",
        "arg_grad_ids",
        "backward_passes",
        "grad_enabled_after",
    }
    found = []
    for path in GRADER.rglob("*.py"):
        if path.name == "protocol.py" or "serve" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in keys:
                        found.append(f"{path.relative_to(GRADER)}:{key.lineno} {key.value!r}")
    # Not messages: testfunc's {"op": ...} is an expression tree inside a value, causes'
    # a hint's parameter (the operation that broadcast), points' the result's record.
    elsewhere = ("judge/testfunc.py", "judge/causes.py:160 'op'", "score/points.py")
    assert [f for f in found if not f.startswith(elsewhere)] == []


def test_a_reply_is_measured_against_the_bounds_the_judge_reads_it_with() -> None:
    import json

    from grader.child import wire

    small = json.dumps({"value": list(range(1000))})
    assert wire.too_large(small) == ""
    many = json.dumps({"value": [0] * (wire.MAX_ITEMS + 1)})
    assert "values, over the 2,000,000" in wire.too_large(many)
    assert wire.items(many.encode()) == wire.items(many) > wire.MAX_ITEMS
    long = json.dumps({"value": "x" * wire.MAX_REPLY})
    assert "MiB, over the 16 MiB" in wire.too_large(long)
