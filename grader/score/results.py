"""The results record: one typed definition for the scorer, the outputs, the tests and the docs.

A record holds no text in any language: a failed check, and an exercise that
was not graded, carry a ``hint`` (id and parameters). Text is made once, where
output is written: ``written`` fills ``message`` (and ``error.summary``) for
results.json and the exports; the report and the terminal call ``message_of``.
The fields are documented in docs/course-layout.md.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, TypedDict

from grader.render.locale import Locale

__all__ = [
    "Hint",
    "CheckResult",
    "ErrorDetail",
    "ExerciseResult",
    "StudentResult",
    "EXERCISE_KEYS",
    "WRITTEN_EXERCISE_KEYS",
    "hint",
    "crashed_checks",
    "message_of",
    "with_messages",
    "written",
    "written_student",
]


class Hint(TypedDict):
    """Why a check failed, or why an exercise was not graded: a catalog id and its blanks."""

    id: str
    params: dict[str, Any]


class CheckResult(TypedDict):
    """One check's verdict; ``title`` is its docstring's first line (English)."""

    name: str
    title: str
    passed: bool
    score: float
    max_score: float
    hint: Hint | None


class ErrorDetail(TypedDict):
    """What stopped a submission: ``traceback`` holds the submission's own lines only."""

    kind: str
    traceback: str


class ExerciseResult(TypedDict):
    """One exercise of one student (``hint`` says why when ``status`` is not ``graded``)."""

    exercise: str
    title: str
    status: str
    score: float
    max_score: float
    hint: Hint | None
    source: str
    digest: str
    duration: float
    output: str
    output_dropped: int
    error: ErrorDetail | None
    checks: list[CheckResult]
    plots: list[dict[str, Any]]
    sandbox: dict[str, Any] | None


class StudentResult(TypedDict):
    """A student's exercises and their sums."""

    student: str
    score: float
    max_score: float
    exercises: list[ExerciseResult]


EXERCISE_KEYS = frozenset(ExerciseResult.__annotations__)
# What results.json holds besides: each text in the document's language.
WRITTEN_EXERCISE_KEYS = EXERCISE_KEYS | {"message"}


def hint(hint_id: str, **params: Any) -> Hint:
    """Make a hint record."""
    return {"id": hint_id, "params": params}


def crashed_checks(exercises: Iterable[Any]) -> list[str]:
    """Name the checks of these exercise results that crashed (a fault of the checks).

    Their points are missing from the score, but not for anything the student's
    code did: whoever reports the score exits 2 and says so.
    """
    return [
        check["name"]
        for exercise in exercises
        for check in exercise.get("checks", [])
        if (check.get("hint") or {}).get("id") == "check_error"
    ]


def message_of(item: dict[str, Any], exercise: str, locale: Locale) -> str:
    """Return the text of a check's or an exercise's hint in ``locale``'s language.

    A record read back from an older results.json may hold only its message:
    that is kept when the catalogs do not know the hint.
    """
    found = item.get("hint")
    stored = str(item.get("message") or "")
    if isinstance(found, dict) and isinstance(found.get("id"), str):
        params = found.get("params")
        text = locale.hint(exercise, found["id"], params if isinstance(params, dict) else {})
        if text != found["id"] or not stored:
            return text
    return stored


def with_messages(result: dict[str, Any], locale: Locale) -> dict[str, Any]:
    """Return a copy of one exercise's record with its texts written in ``locale``."""
    out = copy.deepcopy(result)
    name = str(out.get("exercise", ""))
    message = "" if out.get("status") == "graded" else message_of(out, name, locale)
    # Keep the documented order: the message right after the points.
    at = list(out).index("max_score") + 1 if "max_score" in out else len(out)
    items = [(k, v) for k, v in out.items() if k != "message"]
    out = dict([*items[:at], ("message", message), *items[at:]])
    if isinstance(out.get("error"), dict):
        out["error"]["summary"] = message
        out["error"] = {k: out["error"][k] for k in ("kind", "summary", "traceback")}
    for check in out.get("checks") or []:
        check["title"] = locale.title(name, str(check["name"]), str(check["title"]))
        check["message"] = "" if check.get("passed") else message_of(check, name, locale)
    return out


def written(document: dict[str, Any], locale: Locale) -> dict[str, Any]:
    """Return a copy of a results document with every text in ``locale``'s language."""
    out = dict(document)
    out["lang"] = locale.lang
    out["students"] = [written_student(s, locale) for s in document["students"]]
    return out


def written_student(student: Any, locale: Locale) -> dict[str, Any]:
    """Return a copy of one student's record with every text in ``locale``'s language."""
    return {**student, "exercises": [with_messages(e, locale) for e in student["exercises"]]}
