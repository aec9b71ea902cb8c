"""Refuse to run anyone's code where the sandbox falls short: the one gate of every driver.

``grade --require-sandbox``, each worker process of ``grade batch`` and each
Dask worker ask here once, of a child started exactly as every submission's
will be, before any student code runs there (SECURITY.md, "Fail closed").
The refusal is worded here only; a driver names just how its user runs anyway.
"""

from __future__ import annotations

from typing import Any

from grader.engine.exercise import Settings, sandbox_ready
from grader.judge.checks import JudgeError
from grader.run.executors import Executor
from grader.run.sandbox import shortfall

__all__ = ["refuse_half_confined", "TRUST_SUBMISSIONS", "LEAVE_OUT_REQUIREMENT"]

# How a driver's user runs anyway, as the refusal's last words.
TRUST_SUBMISSIONS = "pass --trust-submissions to grade anyway"  # grade batch, on any cluster
LEAVE_OUT_REQUIREMENT = "leave out --require-sandbox"  # grade, as Gradescope's script runs it


def refuse_half_confined(executor: Executor, settings: Settings, *, way_out: str) -> dict[str, Any]:
    """Return how this machine confines a child; refuse if that falls short and must not.

    Refusing is for ``settings.require_sandbox`` (a batch unless trusted, a CI
    grade with --require-sandbox); a machine whose grading environment is
    broken raises ``EnvironmentBroken`` here, before any student is scored.
    """
    state = sandbox_ready(executor, settings.limits)
    problem = shortfall(state)
    if problem and settings.require_sandbox:
        # A submission could do there what SECURITY.md promises it cannot: no student
        # code runs, not even the first one's (it could be the one that attacks).
        raise JudgeError(
            f"refusing to run submissions: here {problem}. See SECURITY.md (where the "
            f"sandbox holds) to fix it, or {way_out}"
        )
    return state
