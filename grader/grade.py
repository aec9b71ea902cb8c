"""Grade one exercise of one submission: read it, run it confined, judge it, score it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.check import Submission
from grader.course import Course, Exercise
from grader.executor import Executor, Limits
from grader.judge import judge
from grader.locale import Locale
from grader.score import exercise_result, unjudged_result
from grader.submission import SourceFile, SubmissionError

__all__ = ["Settings", "grade_exercise", "secrets_of"]


@dataclass
class Settings:
    """What every grade of one run shares."""

    seed: int
    limits: Limits = field(default_factory=Limits)
    lang: str = "en"


def secrets_of(course: Course) -> list[str]:
    """Return the folders a submission must never read: the whole course (its checks,
    reference solutions and .git history); the grader package is bound back into it."""
    return [str(course.root)]


def grade_exercise(
    course: Course,
    exercise: Exercise,
    path: Path | SourceFile | None,
    executor: Executor,
    settings: Settings,
    locale: Locale,
    shown_as: str = "",
) -> dict[str, Any]:
    """Grade ``path`` (or record it missing) for ``exercise``.

    ``path`` may be a file on disk or its bytes already read (a batch reads
    them where the submissions live and grades them in a worker).
    """
    shown = shown_as or (path.name if path else "")
    if path is None:
        return unjudged_result(
            exercise.name,
            exercise.title,
            "missing",
            locale.text("common.status.missing"),
            exercise.max_score,
        )
    try:
        file = path if isinstance(path, SourceFile) else SourceFile.read(path)
        source = file.source()
    except SubmissionError as exc:
        return unjudged_result(
            exercise.name, exercise.title, "error", str(exc), exercise.max_score, source=shown
        )
    started = time.monotonic()
    deadline = started + settings.limits.timeout
    submission = Submission(lambda: executor.start(settings.limits, deadline), source.wire())
    submission.start_early()
    verdict = judge(exercise.checks, submission, settings.seed)
    output = "".join(ending.output for ending in submission.endings)
    dropped = sum(ending.dropped for ending in submission.endings)
    return exercise_result(
        exercise.name,
        exercise.title,
        verdict,
        locale,
        source=shown,
        digest=source.digest,
        duration=time.monotonic() - started,
        output=output[: settings.limits.output],
        dropped=dropped,
        load_error=submission.load_error,
        sandbox=submission.sandbox,
    )
