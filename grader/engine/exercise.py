"""Grade one exercise of one submission: read it, run it confined, judge it, score it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from grader.child.protocol import Chunk
from grader.course import content
from grader.course.content import ContentError, ExerciseContent
from grader.course.find import Course, Exercise
from grader.judge import reference
from grader.judge.checks import CheckOutcome, JudgeError, judge, max_score
from grader.judge.submission import Submission
from grader.run.children import ENVIRONMENT, Children, RunFailure
from grader.run.executors import Executor, Limits
from grader.score.points import exercise_result, unjudged_result
from grader.score.results import ExerciseResult, hint
from grader.submission.source import SourceFile, SubmissionError

__all__ = [
    "Settings",
    "grade_exercise",
    "grade_each",
    "secrets_of",
    "sandbox_ready",
    "EnvironmentBroken",
]

Work = TypeVar("Work")
Result = TypeVar("Result")


class EnvironmentBroken(JudgeError):
    """The grading environment failed before the submission ran: the grader's error, not a 0."""


@dataclass
class Settings:
    """What every grade of one run shares.

    No language: a result holds hint ids, never text, and whoever writes the
    output puts it in the reader's language (``results.written``).
    """

    seed: int
    limits: Limits = field(default_factory=Limits)
    # Refuse to run any submission unless every sandbox guarantee holds (SECURITY.md).
    require_sandbox: bool = False
    # Told, as a line of text, when a call of a submission is slow to return (``grade``
    # prints it: a sign of life during an endless loop); None says nothing.
    notice: Callable[[str], None] | None = None


def secrets_of(course: Course) -> list[str]:
    """Return the folders a submission must never read: the whole course (its checks,
    reference solutions and .git history); the grader package is bound back into it."""
    return [str(course.root)]


def _submission(
    executor: Executor,
    limits: Limits,
    chunks: Sequence[Chunk],
    exercise: ExerciseContent | None = None,
    waiting: Callable[[str, float], None] | None = None,
) -> Submission:
    children = Children.of(executor, limits, waiting)
    return Submission(children, chunks, operations=exercise.wire() if exercise else None)


def _environment_broken(reason: str, what: str) -> EnvironmentBroken:
    return EnvironmentBroken(
        f"the grading environment failed before {what or 'the submission'} could run "
        f"(the process for it: {reason}); this is not the student's doing: check the "
        "installation (python -c 'import torch' as the grading user) and grade again"
    )


def sandbox_ready(executor: Executor, limits: Limits) -> dict[str, Any]:
    """Start one child, wait until it is confined, and return how (before any student code)."""
    children = Children.of(executor, limits)
    try:
        children.ready()
    except RunFailure as failure:
        raise _environment_broken(failure.reason, "any submission") from None
    finally:
        children.close()
    return children.sandbox


def grade_exercise(
    course: Course,
    exercise: Exercise,
    path: Path | SourceFile | None,
    executor: Executor,
    settings: Settings,
    *,
    shown_as: str = "",
) -> ExerciseResult:
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
            hint("missing"),
            max_score(exercise.checks),
        )
    try:
        file = path if isinstance(path, SourceFile) else SourceFile.read(path)
        source = file.source()
    except SubmissionError as exc:
        return unjudged_result(
            exercise.name,
            exercise.title,
            "error",
            str(exc),
            max_score(exercise.checks),
            source=shown,
        )
    if not any(_has_code(text) for _, text in source.chunks):
        # Else every check says "`f` is not defined in your code", never why.
        return unjudged_result(
            exercise.name,
            exercise.title,
            "error",
            hint("empty_file", file=shown),
            max_score(exercise.checks),
            source=shown,
            digest=source.digest,
            error_kind="empty",
        )
    started = time.monotonic()
    try:
        data = ExerciseContent.load(exercise.checks, course.templates)
    except ContentError as exc:
        raise JudgeError(str(exc)) from None
    submission = _submission(
        executor,
        settings.limits,
        source.load_chunks(),
        data,
        _waiting(settings.notice, exercise.name),
    )
    submission.start_early()
    with content.using(data):
        verdict = judge(exercise.checks, submission, settings.seed)
    if verdict.broken is not None and verdict.broken.status == ENVIRONMENT:
        raise _environment_broken(verdict.broken.failure.params.get("reason", ""), shown)
    if reference.crashed_on_answers(verdict.checks):
        passed = reference.passed_by_reference(
            exercise.solution,
            exercise.checks,
            exercise.checks_digest,
            settings.seed,
            lambda: _reference_outcomes(exercise, data, executor, settings),
        )
        verdict.checks = reference.charged(verdict.checks, passed)
    output, dropped = submission.children.output(settings.limits.output)
    return exercise_result(
        exercise.name,
        exercise.title,
        verdict,
        source=shown,
        digest=source.digest,
        duration=time.monotonic() - started,
        output=output,
        dropped=dropped,
        load_error=submission.load_error,
        sandbox=submission.children.sandbox,
    )


def _reference_outcomes(
    exercise: Exercise, data: ExerciseContent, executor: Executor, settings: Settings
) -> list[CheckOutcome]:
    """Judge the exercise's reference solution as a submission; [] when it cannot run.

    Whatever stops it (no solution shipped, as in a student's copy of the course; a
    child that fails) keeps a crash the check's: never a student's 0 by default.
    """
    try:
        source = SourceFile.read(exercise.solution).source()
    except SubmissionError:
        return []
    submission = _submission(executor, settings.limits, source.load_chunks(), data)
    try:
        with content.using(data):
            verdict = judge(exercise.checks, submission, settings.seed)
    except JudgeError:
        return []
    return [] if verdict.broken is not None else verdict.checks


def _has_code(text: str) -> bool:
    """Whether ``text`` holds anything but blank lines and comments."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _waiting(
    notice: Callable[[str], None] | None, exercise: str
) -> Callable[[str, float], None] | None:
    """Word a slow call for ``notice``: which function, and when it will be stopped."""
    if notice is None:
        return None
    told = notice

    def waiting(function: str, limit: float) -> None:
        what = f"`{function}` to return" if function else "the code to load"
        told(f"{exercise}: still waiting for {what} (it is stopped after {limit:.0f} s)")

    return waiting


def grade_each(
    work: Sequence[Work], grade_one: Callable[[Work], Result], at_once: int = 1
) -> list[Result]:
    """Grade every item of ``work``, ``at_once`` at a time; return the results in order.

    Each exercise runs in its own confined child, so several children use
    several cores while this process's threads only judge their replies. The
    threads are daemons: Ctrl-C ends the grade at once instead of waiting for
    every running exercise (the children die with their zygote, and it with us).
    """
    if at_once <= 1 or len(work) <= 1:
        return [grade_one(item) for item in work]
    results: list[Future[Result]] = [Future() for _ in work]
    order = iter(range(len(work)))
    taking = threading.Lock()

    def serve() -> None:
        while True:
            with taking:
                index = next(order, None)
            if index is None:
                return
            try:
                results[index].set_result(grade_one(work[index]))
            except BaseException as exc:  # raised in the caller's thread, below
                results[index].set_exception(exc)

    for _ in range(min(at_once, len(work))):
        threading.Thread(target=serve, name="grade", daemon=True).start()
    return [result.result() for result in results]
