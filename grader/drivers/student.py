"""Grade one student's work (``grade 03`` or ``grade``): every exercise, one results document.

What the student then reads is written by ``grader.render.publish``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from grader.course.find import Course, Exercise
from grader.engine.exercise import Settings, grade_each, grade_exercise, secrets_of
from grader.render import plots
from grader.render.locale import Locale
from grader.run.executors import Executor
from grader.run.executors.sandboxed import SandboxExecutor
from grader.run.gate import LEAVE_OUT_REQUIREMENT, refuse_half_confined
from grader.score.points import results_document, student_result
from grader.score.results import ExerciseResult

__all__ = ["Settings", "grade_student", "executor_for"]


def _student_name() -> str:
    """Name the one student of `grade` after the user running it (for the report's title)."""
    import getpass

    try:
        return getpass.getuser() or "student"
    except Exception:  # no user database entry (containers): getuser raises varied errors
        return "student"


def executor_for(course: Course, count: int) -> Executor:
    """Pick the executor: warm forked children for several exercises, else a fresh child."""
    if count > 1:
        from grader.run.executors.warm_fork import ZygoteExecutor

        if ZygoteExecutor.available():
            return ZygoteExecutor(hide=secrets_of(course))
    return SandboxExecutor(hide=secrets_of(course))


def grade_student(
    course: Course,
    work: list[tuple[Exercise, Path | None]],
    settings: Settings,
    executor: Executor | None = None,
    *,
    report: Locale | None = None,
) -> dict[str, Any]:
    """Grade each (exercise, file) pair and return the results document (no text in it yet).

    ``report`` is the language the report will be written in: each exercise's
    plots are then drawn in it while the other exercises still run.
    """
    executor = executor or executor_for(course, len(work))
    locale = report if len(work) > 1 else None
    if locale is not None:
        plots.warm_up()  # the report's plots, drawn at the end, start loading now

    def grade_one(item: tuple[Exercise, Path | None]) -> ExerciseResult:
        result = grade_exercise(
            course, item[0], item[1], executor, settings, shown_as=_shown(course, item[1])
        )
        if locale is not None:
            # Drawn while the other exercises still run, for the report to find ready.
            plots.draw_ahead(result.get("plots", []), exercise=item[0].name, locale=locale)
        return result

    try:
        if settings.require_sandbox:
            # Gradescope and the like: the student's code must not run half-confined.
            refuse_half_confined(executor, settings, way_out=LEAVE_OUT_REQUIREMENT)
        # Several exercises at once, each in its own warm child: the cores are there.
        exercises = grade_each(
            work,
            grade_one,
            # (in-process, for tests, they would share one module namespace: one at a time)
            at_once=(os.cpu_count() or 1) if isinstance(executor, SandboxExecutor) else 1,
        )
    finally:
        executor.close()
    return results_document([student_result(_student_name(), exercises)], seed=settings.seed)


def _shown(course: Course, path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(course.root))
    except ValueError:
        return str(path)
