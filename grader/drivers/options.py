"""What every ``grade`` command shares: limits, options, one-line errors, the exit status.

The student's command, ``grade batch`` and ``grade serve`` (grader.serve.cli) all
speak through these, so an option reads and an error is worded the same everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from grader.course.find import Course, CourseError
from grader.run.executors import Limits
from grader.score.results import crashed_checks

__all__ = [
    "common_limits",
    "complain",
    "course_of",
    "course_option",
    "exit_status",
    "fail",
    "lang_option",
    "limits_of",
    "with_limits",
]


def complain(message: str) -> None:
    click.echo(f"grade: error: {message}", err=True)


def fail(message: str) -> None:
    complain(message)
    sys.exit(2)


def course_of(path: str | None) -> Course:
    try:
        return Course.load(Path(path)) if path else Course.find()
    except CourseError as exc:
        fail(str(exc))
        raise  # unreachable


def limits_of(timeout: float, memory: int, output: int) -> Limits:
    return Limits(timeout=timeout, memory=memory * 1024**2, output=output * 1024)


common_limits = [
    # A limit no submission can meet would charge every student with it: refused here.
    click.option(
        "--timeout",
        default=60.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Wall-clock seconds per exercise (loading and every call).",
    ),
    click.option(
        "--memory",
        default=2048,
        show_default=True,
        type=click.IntRange(min=1),
        help="Memory limit per exercise, in MiB.",
    ),
    click.option(
        "--output-limit",
        "output",
        default=1024,
        show_default=True,
        type=click.IntRange(min=0),
        help="KiB of printed output kept per exercise; the rest is dropped.",
    ),
]


course_option = click.option(
    "--course",
    "course_dir",
    type=click.Path(file_okay=False),
    help="The course folder (default: found from the current folder).",
)
lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of the reports and hints.",
)


def with_limits(f: Any) -> Any:
    for option in reversed(common_limits):
        f = option(f)
    return f


def exit_status(record: dict[str, Any], min_score: float | None, kept: str | None = None) -> int:
    """Return the exit status of a graded student: 0 at full marks (or ``min_score``), else 1.

    2 when a check crashed: the score lacks what it would have given, not the student's
    doing; ``kept`` names the file holding the checks' tracebacks, when there is one.
    """
    broken = crashed_checks(record["exercises"])
    if broken:
        complain(
            f"{len(broken)} check(s) could not run ({', '.join(broken[:3])}): a fault of "
            "the checks, not of the submission; tell your instructor"
            + (f" (the checks' tracebacks are in {kept})" if kept else "")
        )
        return 2
    threshold = record["max_score"] if min_score is None else min_score
    return 0 if record["score"] >= threshold and record["max_score"] > 0 else 1
