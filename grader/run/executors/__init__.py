"""Run a submission confined and exchange plain-data requests with it.

One interface (``Executor``, in ``base``), three ways to run:

- ``sandboxed``: a fresh, confined child process per submission; the
  reference way to grade, and the fallback where fork is missing.
- ``warm_fork``: children forked from a warm zygote that imported torch
  once; the same confinement, milliseconds to start instead of seconds.
- ``in_process``: the same child-side code in this process, no isolation;
  unit tests and the benchmarks' floor only, never an untrusted submission.
"""

from grader.run.executors.base import (
    STARTUP,
    ChildGone,
    Ending,
    Executor,
    Limits,
    Session,
    Timeout,
)

__all__ = ["STARTUP", "ChildGone", "Ending", "Executor", "Limits", "Session", "Timeout"]
