"""Turn verdicts into scores and the results document (see docs/course-layout.md)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from grader import __version__
from grader.judge.checks import Verdict
from grader.score.results import CheckResult, ErrorDetail, ExerciseResult, Hint, StudentResult, hint

__all__ = [
    "exercise_result",
    "unjudged_result",
    "student_result",
    "results_document",
    "to_json",
]

FORMAT = 1


def to_json(results: Any, depth: int = 0) -> str:
    """Serialise a results document as strict JSON (NaN and infinities become null).

    Indented two spaces per level, as ``json.dumps(indent=2)`` would, except that a
    list of numbers (a plot's series: a thousand losses) stays on one line. With one
    number per line a class of 100 came to 15 MB, and writing it took longer than
    anything else after grading. ``depth`` indents a document nested in another.
    """
    if isinstance(results, Mapping) and results:
        inner = "  " * (depth + 1)
        items = [f"{inner}{_key(k)}: {to_json(v, depth + 1)}" for k, v in results.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(results, (list, tuple)) and results:
        if _is_number(results[0]):
            # The C encoder; if all it wrote is numbers, that is the line, with null
            # for what strict parsers reject (a diverged descent): those words are tokens.
            text = json.dumps(results)
            if not _NOT_NUMBERS.search(text, 1, len(text) - 1):
                return _NOT_FINITE.sub("null", text)
        inner = "  " * (depth + 1)
        items = [inner + to_json(v, depth + 1) for v in results]
        return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"
    if isinstance(results, str):
        return _string(results)
    if isinstance(results, float) and not math.isfinite(results):
        return "null"
    return json.dumps(results, ensure_ascii=False, allow_nan=False)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _key(key: Any) -> str:
    # As json.dumps writes a key: a string as it is; a number or a boolean as its text.
    return _string(key if isinstance(key, str) else json.dumps(key))


_string = json.encoder.encode_basestring  # as json.dumps(ensure_ascii=False) writes one
_NOT_FINITE = re.compile(r"-?Infinity|NaN")
_NOT_NUMBERS = re.compile(r'[\[{"]|true|false')


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
