"""Ask the reference solution whether a check that crashed is broken for everyone.

A check that raises an error of its own (an ``IndexError`` in its code, not a
verdict) is either broken, and then it fails on the reference solution too:
the course's fault (``check_error``; ``grade`` exits 2 and the student stays
out of the gradebook until the check is fixed); or it could not judge what one
student returned (an honest answer of a shape it did not foresee): the
student's failure, said with the ``check_cannot_judge`` hint, and their 0 is
kept. Which of the two is told by grading the reference solution with the same
seed, so that every check draws the same inputs: only after a crash, and once
per exercise, version of its checks and seed in a process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from grader.judge.checks import CheckOutcome

__all__ = ["CRASHED", "crashed_on_answers", "charged", "passed_by_reference"]

# The hints of a check that crashed, whoever's fault it was (grade verify asks the
# author to turn either into a hint of the check's own).
CRASHED = frozenset({"check_error", "check_cannot_judge"})

_KEPT = 64  # exercises x seeds remembered by one process (a server grades for months)
_passed: dict[tuple[str, ...], frozenset[str]] = {}
_busy: dict[tuple[str, ...], threading.Lock] = {}
_lock = threading.Lock()


def crashed_on_answers(outcomes: list[CheckOutcome]) -> bool:
    """Whether a check crashed after it got an answer of the submission."""
    return any(o.hint == "check_error" and o.params.get("function") for o in outcomes)


def passed_by_reference(
    solution: Path, checks: Path, digest: str, seed: int, grade: Callable[[], list[CheckOutcome]]
) -> frozenset[str]:
    """Return the checks the reference solution at ``solution`` passes under ``seed``.

    ``grade`` judges it (``digest`` names the version of ``checks``); empty when the
    reference cannot be read. Exercises judged at once on threads each wait only for
    their own reference.
    """
    try:
        answer = hashlib.sha256(solution.read_bytes()).hexdigest()
    except OSError:
        return frozenset()
    key = (str(checks.resolve()), digest, answer, str(seed))
    with _lock:
        busy = _busy.setdefault(key, threading.Lock())
    with busy:
        with _lock:
            if key in _passed:
                return _passed[key]
        passed = frozenset(o.name for o in grade() if o.passed)
        with _lock:
            while len(_passed) >= _KEPT:
                _passed.pop(next(iter(_passed)))
            _passed[key] = passed
            _busy.pop(key, None)
        return passed


def charged(outcomes: list[CheckOutcome], passed: frozenset[str]) -> list[CheckOutcome]:
    """Charge to the student each crash of a check that the reference solution passes.

    A check that crashed before it got any answer cannot have been misled by one:
    that stays the check's error.
    """
    out = []
    for outcome in outcomes:
        function = outcome.params.get("function")
        if outcome.hint == "check_error" and function and outcome.name in passed:
            params = {"function": function, "message": outcome.params.get("message", "")}
            outcome = replace(outcome, hint="check_cannot_judge", params=params)
        out.append(outcome)
    return out
