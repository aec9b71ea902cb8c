"""A child process that is not one: scripted sessions for testing ``Submission`` in milliseconds.

``FakeChild(script)`` stands in for an executor: ``Submission(child.start, ...)``
starts a ``FakeSession`` per child. The script maps a function name to what its
calls do, in order: a value to return, or an exception to raise in the judge
(``ChildGone`` for a crash, ``Timeout`` for the wall clock); the last entry
repeats. Every request is recorded, so a test can see restarts and reloads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from grader.run.executors import Ending

__all__ = ["FakeChild", "FakeSession"]


class FakeSession:
    """One scripted child: answers hello and load, then calls from the shared script."""

    def __init__(self, child: FakeChild, number: int) -> None:
        self.child = child
        self.number = number
        self.requests: list[dict[str, Any]] = []
        # The deadline each request was sent with, in order.
        self.deadlines: list[float] = []
        self.deadline = time.monotonic() + 3600
        self.closed = False

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert not self.closed, "a request to a child that was closed"
        self.requests.append(message)
        self.deadlines.append(self.deadline)
        op = message["op"]
        if op in ("hello", "load"):
            reply = getattr(self.child, op)
            if isinstance(reply, BaseException):
                raise reply
            return dict(reply)
        outcome = self.child.next_outcome(message["function"])
        if isinstance(outcome, BaseException):
            raise outcome
        return {"ok": True, "value": outcome}

    def close(self) -> Ending:
        self.closed = True
        return Ending(output=self.child.output.format(number=self.number), returncode=0)


class FakeChild:
    """Start scripted sessions; count them and keep every one for inspection."""

    def __init__(
        self,
        script: Mapping[str, list[Any]] | None = None,
        load: dict[str, Any] | BaseException | None = None,
        hello: dict[str, Any] | BaseException | None = None,
        output: str = "child {number} printed this\n",
    ) -> None:
        self.script = {name: list(steps) for name, steps in (script or {}).items()}
        # What the hello and the load answer, or raise (a child that dies there).
        self.hello: Any = hello if hello is not None else {"ok": True, "sandbox": {}}
        self.load: Any = load if load is not None else {"ok": True, "functions": []}
        self.output = output
        self.sessions: list[FakeSession] = []

    @property
    def starts(self) -> int:
        return len(self.sessions)

    def start(self) -> FakeSession:
        session = FakeSession(self, len(self.sessions) + 1)
        self.sessions.append(session)
        return session

    def next_outcome(self, function: str) -> Any:
        steps = self.script.get(function)
        if not steps:
            return None
        return steps.pop(0) if len(steps) > 1 else steps[0]

    def requests(self, op: str) -> list[dict[str, Any]]:
        """Return every request of kind ``op`` any child received, in order."""
        return [r for s in self.sessions for r in s.requests if r["op"] == op]
