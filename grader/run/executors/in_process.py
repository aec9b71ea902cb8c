"""Run trusted code in the judge's own process: no isolation, for tests and benchmarks.

The same child-side runtime (``grader.child.runner``) answers the requests,
so unit tests see what a sandboxed child would send. It must never see an
untrusted submission: nothing stands between the code and the judge.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from grader.run.executors.base import Ending, Limits, Timeout

__all__ = ["InProcessExecutor", "InProcessSession"]


class InProcessSession:
    """Answer requests with the child-side runtime in this very process (no isolation)."""

    def __init__(self, deadline: float) -> None:
        from grader.child.runner import Runtime

        self.runtime = Runtime()
        self.deadline = deadline

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        # Round-trip through JSON so both executors hand the judge identical data.
        reply = self.runtime.handle(json.loads(json.dumps(message)))
        if time.monotonic() > self.deadline:
            raise Timeout()
        return json.loads(json.dumps(reply))

    def close(self) -> Ending:
        sys.modules.pop("exercise", None)
        return Ending(returncode=0)


class InProcessExecutor:
    """Run trusted code (reference solutions) in-process; for tests and benchmarks only."""

    def start(self, limits: Limits, deadline: float) -> InProcessSession:
        return InProcessSession(deadline)

    def close(self) -> None:
        """Hold nothing: each session is its own runtime."""
