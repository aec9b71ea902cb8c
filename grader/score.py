"""Turn verdicts into scores and the results document (see docs/course-layout.md)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from grader import __version__
from grader.judge import Verdict
from grader.results import CheckResult, ErrorDetail, ExerciseResult, Hint, StudentResult, hint

__all__ = [
    "exercise_result",
    "unjudged_result",
    "student_result",
    "results_document",
    "to_json",
]

FORMAT = 1


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # a diverged descent: JSON has no NaN, and strict parsers reject it
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(results: dict[str, Any]) -> str:
    """Serialise a results document as strict JSON (NaN and infinities become null)."""
    return json.dumps(_finite(results), indent=2, ensure_ascii=False, allow_nan=False)


def exercise_result(
    name: str,
    title: str,
    verdict: Verdict,
    *,
    source: str,
    digest: str,
    duration: float,
    output: str,
    dropped: int,
    load_error: dict[str, Any] | None,
    sandbox: dict[str, Any] | None = None,
) -> ExerciseResult:
    """Score one judged exercise: points from the checks pytest collected and ran."""
    checks: list[CheckResult] = [
        {
            "name": c.name,
            "title": c.title,
            "passed": c.passed,
            "score": c.score,
            "max_score": c.max_score,
            "hint": None if c.passed else Hint(id=c.hint, params=c.params),
        }
        for c in verdict.checks
    ]
    status, why, error = "graded", None, None
    if verdict.broken is not None:
        status = verdict.broken.status
        failure = verdict.broken.failure
        why = Hint(id=failure.hint, params=failure.params)
        error = ErrorDetail(
            kind=str((load_error or {}).get("kind") or status),
            traceback=str((load_error or {}).get("traceback", "")),
        )
    return {
        "exercise": name,
        "title": title,
        "status": status,
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "hint": why,
        "source": source,
        "digest": digest,
        "duration": round(duration, 3),
        "output": output,
        "output_dropped": dropped,
        "error": error,
        "checks": checks,
        "plots": verdict.plots,
        "sandbox": sandbox,
    }


def unjudged_result(
    name: str,
    title: str,
    status: str,
    why: Hint | str,
    max_score: float,
    *,
    source: str = "",
    digest: str = "",
    error_kind: str = "unreadable",
) -> ExerciseResult:
    """Record an exercise that never reached the checks: missing, or unreadable.

    ``why`` is a hint, or a reason in plain words (an unreadable file's).
    """
    return {
        "exercise": name,
        "title": title,
        "status": status,
        "score": 0.0,
        "max_score": max_score,
        "hint": hint("unreadable", reason=why) if isinstance(why, str) else why,
        "source": source,
        "digest": digest,
        "duration": 0.0,
        "output": "",
        "output_dropped": 0,
        "error": None if status == "missing" else ErrorDetail(kind=error_kind, traceback=""),
        "checks": [],
        "plots": [],
        "sandbox": None,
    }


def student_result(student: str, exercises: Sequence[Mapping[str, Any]]) -> StudentResult:
    """Sum a student's exercises (fresh records, or ones a batch read back from its state)."""
    records = cast(list[ExerciseResult], list(exercises))
    return {
        "student": student,
        "score": sum(e["score"] for e in records),
        "max_score": sum(e["max_score"] for e in records),
        "exercises": records,
    }


def results_document(students: list[StudentResult], *, seed: int) -> dict[str, Any]:
    """Wrap student results in the versioned results document (``written`` adds its lang)."""
    return {
        "format": FORMAT,
        "grader": f"autograd-grader {__version__}",
        "seed": seed,
        "lang": "",
        "students": students,
    }
