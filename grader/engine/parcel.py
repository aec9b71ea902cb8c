"""Pack a student's files as bytes and grade them wherever the parcel arrives.

A batch grades in worker processes on this machine or on Dask workers on
other machines. Both get a Parcel (the student's name and the bytes of each
exercise file) and send back plain per-exercise result dicts, so the two
paths cannot drift apart and no worker needs the submissions folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.course.find import Course
from grader.engine.exercise import Settings, grade_each, grade_exercise
from grader.run.executors import Executor
from grader.submission.source import SourceFile, read_for_student

__all__ = ["Parcel", "pack", "grade_parcel", "digest_of"]


@dataclass(frozen=True)
class Parcel:
    """One student's files to grade: (exercise name, the file's bytes or None when missing)."""

    student: str
    files: tuple[tuple[str, SourceFile | None], ...]


def pack(student: str, folder: Path, exercises: Iterable[str]) -> Parcel:
    """Read the student's file for each exercise into a Parcel."""
    files = []
    for name in exercises:
        files.append((name, read_for_student(folder, name)))
    return Parcel(student, tuple(files))


def digest_of(file: SourceFile | None) -> str:
    """Name the file a result came from, so a later run grades only what changed."""
    return file.digest if file is not None else "missing"


def grade_parcel(
    parcel: Parcel,
    course: Course,
    settings: Settings,
    executor: Executor,
    at_once: int = 1,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Grade every file in ``parcel`` (``at_once`` exercises at a time); return the
    student and a result per exercise."""

    def grade_one(item: tuple[str, SourceFile | None]) -> dict[str, Any]:
        name, file = item
        exercise = course.exercise(name)
        result = grade_exercise(
            course,
            exercise,
            file,
            executor,
            settings,
            shown_as=file.name if file else "",
        )
        # The digest of the very bytes graded: a file edited meanwhile is graded again next run.
        done = dict(result)
        done["file_digest"] = digest_of(file)
        done["checks_digest"] = exercise.checks_digest
        return done

    results = grade_each(parcel.files, grade_one, at_once)
    return parcel.student, {name: r for (name, _), r in zip(parcel.files, results, strict=True)}
