"""Turn verdicts into scores and the results document (see docs/course-layout.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from grader import __version__
from grader.judge import Verdict
from grader.locale import Locale

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


def _error_detail(
    verdict: Verdict, load_error: dict[str, Any] | None, message: str
) -> dict[str, Any] | None:
    if verdict.broken is None:
        return None
    error = load_error or {}
    return {
        "kind": error.get("kind") or verdict.broken.status,
        "summary": message,
        "traceback": str(error.get("traceback", "")),
    }


def exercise_result(
    name: str,
    title: str,
    verdict: Verdict,
    locale: Locale,
    *,
    source: str,
    digest: str,
    duration: float,
    output: str,
    dropped: int,
    load_error: dict[str, Any] | None,
    sandbox: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score one judged exercise."""
    checks = [
        {
            "name": c.name,
            "title": locale.title(name, c.name, c.title),
            "passed": c.passed,
            "score": c.score,
            "max_score": c.max_score,
            "message": "" if c.passed else locale.hint(name, c.hint, c.params),
            "hint": None if c.passed else {"id": c.hint, "params": c.params},
        }
        for c in verdict.checks
    ]
    status, message = "graded", ""
    if verdict.broken is not None:
        status = verdict.broken.status
        failure = verdict.broken.failure
        message = locale.hint(name, failure.hint, failure.params)
    return {
        "exercise": name,
        "title": title,
        "status": status,
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "message": message,
        "source": source,
        "digest": digest,
        "duration": round(duration, 3),
        "output": output,
        "output_dropped": dropped,
        "error": _error_detail(verdict, load_error, message),
        "checks": checks,
        "plots": verdict.plots,
        "sandbox": sandbox,
    }


def unjudged_result(
    name: str,
    title: str,
    status: str,
    message: str,
    max_score: float,
    *,
    source: str = "",
    digest: str = "",
) -> dict[str, Any]:
    """Record an exercise that never reached the checks: missing, or unreadable."""
    return {
        "exercise": name,
        "title": title,
        "status": status,
        "score": 0.0,
        "max_score": max_score,
        "message": message,
        "source": source,
        "digest": digest,
        "duration": 0.0,
        "output": "",
        "output_dropped": 0,
        "error": None
        if status == "missing"
        else {"kind": "unreadable", "summary": message, "traceback": ""},
        "checks": [],
        "plots": [],
        "sandbox": None,
    }


def student_result(student: str, exercises: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum a student's exercises."""
    return {
        "student": student,
        "score": sum(e["score"] for e in exercises),
        "max_score": sum(e["max_score"] for e in exercises),
        "exercises": exercises,
    }


def results_document(
    students: list[dict[str, Any]], *, seed: int, lang: str, course: Path | None = None
) -> dict[str, Any]:
    """Wrap student results in the versioned results document."""
    return {
        "format": FORMAT,
        "grader": f"autograd-grader {__version__}",
        "seed": seed,
        "lang": lang,
        "students": students,
    }
