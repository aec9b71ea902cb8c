"""Name the grader's processes for ``ps`` and tie a helper's life to its parent's (Linux).

Used by the trusted side (a batch's workers and report processes) and by the
child's start-up alike, so it holds the two ``prctl`` calls only and imports
nothing but the standard library: the batch must not load the child's
confinement code to name a worker.
"""

from __future__ import annotations

import ctypes
import signal
import sys

__all__ = ["name_process", "die_with_parent", "helper_process"]

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def name_process(name: str) -> None:
    """Name this process as ``ps`` and ``top`` show it (Linux; at most 15 bytes)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent ends (Linux; elsewhere nothing)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def helper_process(name: str) -> None:
    """Make this process a helper of its parent: named, deaf to Ctrl-C, and dying with it.

    Ctrl-C is the parent's to handle (once, with one line); a helper that heard it
    too would print its own traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    name_process(name)
