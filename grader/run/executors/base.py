"""What every executor offers the judge: sessions with a submission, limits, endings.

An executor starts a session per submission; a session answers plain-data
requests until it is closed or its deadline passes. ``close`` ends whatever
the executor itself holds (a warm zygote), and is a no-op where it holds
nothing, so a caller always closes what it opened.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "STARTUP",
    "Limits",
    "Ending",
    "Session",
    "Executor",
    "ChildGone",
    "ProtocolFault",
    "ScratchFull",
    "Timeout",
    "describe_exit",
]

# Seconds a child may take to confine itself and import torch before its first reply.
# Not the student's time: the exercise's own clock starts when the child is ready.
STARTUP = 120.0


@dataclass(frozen=True)
class Limits:
    """Per-exercise limits: wall-clock seconds, bytes of memory, bytes of kept output."""

    timeout: float = 60.0
    memory: int = 2 * 1024**3
    output: int = 1024**2


@dataclass
class Ending:
    """How a child ended: what it printed and how it exited."""

    output: str = ""
    dropped: int = 0
    returncode: int | None = None


class ChildGone(Exception):
    """The child process ended while the judge waited for a reply."""

    def __init__(self, returncode: int | None, why: str = "") -> None:
        self.returncode = returncode
        super().__init__(why or describe_exit(returncode))


class ProtocolFault(ChildGone):
    """The child broke the protocol (a reply too long, not JSON): its fault, and it is ended."""

    def __init__(self, what: str, returncode: int | None = None) -> None:
        self.returncode = returncode
        self.what = what
        Exception.__init__(self, f"the submission's process broke the grader's protocol: {what}")


class ScratchFull(ChildGone):
    """The child held more in its scratch folder than its memory limit allows, and was ended."""

    def __init__(self, what: str, returncode: int | None = None) -> None:
        self.returncode = returncode
        self.what = what
        Exception.__init__(self, f"the submission's process {what}")


class Timeout(Exception):
    """The exercise ran past its wall-clock limit."""


def describe_exit(returncode: int | None) -> str:
    """Say in words how a child process ended."""
    if returncode is None:
        return "the submission's process ended unexpectedly"
    if returncode < 0:
        sig = -returncode
        names = {
            signal.SIGSEGV: "a segmentation fault (SIGSEGV)",
            signal.SIGKILL: "SIGKILL",
            signal.SIGABRT: "an abort (SIGABRT)",
            signal.SIGBUS: "a bus error (SIGBUS)",
            signal.SIGFPE: "a floating-point exception (SIGFPE)",
        }
        try:
            name = names.get(signal.Signals(sig), signal.Signals(sig).name)
        except ValueError:
            name = f"signal {sig}"
        return f"the submission's process was killed by {name}"
    return f"the submission's process exited with status {returncode}"


class Session(Protocol):
    """A running submission that answers requests until closed, or until ``deadline``."""

    deadline: float

    def request(self, message: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> Ending: ...


class Executor(Protocol):
    """Start sessions for submissions; ``close`` ends what the executor itself holds."""

    def start(self, limits: Limits, deadline: float) -> Session: ...

    def close(self) -> None: ...
