"""Which attempt counts, and the class's results document built from the database.

The document is the one ``grade batch`` writes (``grader.batch._assemble``):
one record per student and exercise, "missing" where nothing was handed in,
the review (mistakes, near-copies, gradebook) added by ``grader.review``, and
every export written by the same ``grader.export`` functions.
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.course import Course
from grader.judge import max_score
from grader.locale import Locale
from grader.results import ExerciseResult
from grader.score import results_document, student_result, to_json, unjudged_result
from grader.serve.accounts import roster_of
from grader.serve.models import Result, Student, Submission

__all__ = [
    "POLICIES",
    "Attempt",
    "attempts_of",
    "counted",
    "FinalScore",
    "final_score",
    "exercise_record",
    "ClassView",
    "ClassViews",
]

POLICIES = ("best", "last")


@dataclass(frozen=True)
class Attempt:
    """One submission with its latest result (None while it waits to be graded)."""

    id: int
    student_id: int
    exercise: str
    filename: str
    status: str
    created_at: datetime
    result_id: int | None
    score: float | None
    max_score: float | None
    checks_digest: str | None


def attempts_of(session: Session, student_id: int | None = None) -> list[Attempt]:
    """Return every submission (of one student, or all) with its latest result, oldest first.

    Only the columns shown are read: a submission's bytes and a result's
    document stay in the database until a page needs that one.
    """
    latest = (
        select(Result.submission_id, func.max(Result.id).label("result_id"))
        .group_by(Result.submission_id)
        .subquery()
    )
    query = (
        select(
            Submission.id,
            Submission.student_id,
            Submission.exercise,
            Submission.filename,
            Submission.status,
            Submission.created_at,
            Result.id,
            Result.score,
            Result.max_score,
            Result.checks_digest,
        )
        .select_from(Submission)
        .outerjoin(latest, latest.c.submission_id == Submission.id)
        .outerjoin(Result, Result.id == latest.c.result_id)
        .order_by(Submission.id)
    )
    if student_id is not None:
        query = query.where(Submission.student_id == student_id)
    return [Attempt(*row) for row in session.execute(query).tuples()]  # type: ignore[call-arg]


def counted(attempts: list[Attempt], policy: str) -> dict[tuple[int, str], Attempt]:
    """Pick, per (student, exercise), the graded attempt that counts under ``policy``.

    ``best``: the highest score, the later attempt on a tie; ``last``: the latest
    graded attempt. An attempt still queued or delayed never counts yet.
    """
    chosen: dict[tuple[int, str], Attempt] = {}
    for attempt in attempts:  # oldest first: a later attempt wins a tie
        if attempt.result_id is None:
            continue
        key = (attempt.student_id, attempt.exercise)
        old = chosen.get(key)
        if old is None or policy == "last" or (attempt.score or 0.0) >= (old.score or 0.0):
            chosen[key] = attempt
    return chosen


@dataclass(frozen=True)
class FinalScore:
    """The score of a student's exercise that counts: what the gradebook shows."""

    score: float
    max_score: float
    submission_id: int


def final_score(
    session: Session, student_id: int, exercise: str, policy: str | None = None
) -> FinalScore | None:
    """Return the student's final score of the exercise (None while nothing graded counts).

    ``policy`` left out is the server's, as ``grade serve --score-policy`` recorded it:
    a worker on another machine posts the score the class page shows.
    """
    from grader.serve.database import setting

    chosen = policy or setting(session, "score_policy") or "best"
    attempts = [a for a in attempts_of(session, student_id) if a.exercise == exercise]
    attempt = counted(attempts, chosen).get((student_id, exercise))
    if attempt is None or attempt.score is None or attempt.max_score is None:
        return None
    return FinalScore(attempt.score, attempt.max_score, attempt.id)


def exercise_record(document: str) -> dict[str, Any]:
    """Return a stored result as results.json's exercise record (without the digests)."""
    record = json.loads(document)
    record.pop("file_digest", None)
    record.pop("checks_digest", None)
    return record


def missing_record(course: Course, name: str) -> ExerciseResult:
    """Return the record of an exercise nothing was handed in for, as a batch writes it."""
    from grader.results import hint

    exercise = course.exercise(name)
    return unjudged_result(
        exercise.name, exercise.title, "missing", hint("missing"), max_score(exercise.checks)
    )


@dataclass(frozen=True)
class ClassView:
    """The class as ``grade batch`` would write it: the overview page and every export."""

    version: tuple[int, int, int]
    results: dict[str, Any]
    files: dict[str, bytes]  # results.json, grades.csv, mistakes.csv, similarity/..., gradebook


class ClassViews:
    """Build the class view from the database, again only when a grade or a student changed."""

    def __init__(self, course: Course, *, seed: int, lang: str, trust: bool, policy: str) -> None:
        self.course = course
        self.seed = seed
        self.lang = lang
        self.trust = trust
        self.policy = policy
        self._cached: ClassView | None = None
        self._lock = threading.Lock()

    def current(self, session: Session) -> ClassView:
        """Return the class view, rebuilt when a result, a submission or a student was added."""
        version = (
            int(session.scalar(select(func.max(Result.id))) or 0),
            int(session.scalar(select(func.count(Submission.id))) or 0),
            int(session.scalar(select(func.count(Student.id))) or 0),
        )
        with self._lock:
            if self._cached is None or self._cached.version != version:
                self._cached = self._build(session, version)
            return self._cached

    def _build(self, session: Session, version: tuple[int, int, int]) -> ClassView:
        from grader import export
        from grader.report import render_class_overview
        from grader.results import written_student
        from grader.review import Review, add_review
        from grader.submission import SourceFile, SubmissionError

        course = self.course
        exercises = list(course.exercises)
        locale = Locale(course.templates, self.lang)
        chosen = counted(attempts_of(session), self.policy)
        documents = dict(
            session.execute(
                select(Result.id, Result.document).where(
                    Result.id.in_([a.result_id for a in chosen.values()])
                )
            ).all()
        )
        contents = dict(
            session.execute(
                select(Submission.id, Submission.content).where(
                    Submission.id.in_([a.id for a in chosen.values()])
                )
            ).all()
        )
        students = []
        sources: dict[str, dict[str, str]] = {}
        for student in session.scalars(select(Student).order_by(Student.name)):
            records: list[Any] = []
            work = sources.setdefault(student.name, {})
            for exercise in exercises:
                attempt = chosen.get((student.id, exercise.name))
                if attempt is None or attempt.result_id is None:
                    records.append(missing_record(course, exercise.name))
                    continue
                records.append(exercise_record(documents[attempt.result_id]))
                try:
                    file = SourceFile(attempt.filename, bytes(contents[attempt.id]))
                    work[exercise.name] = "\n".join(text for _, text in file.source().chunks)
                except SubmissionError:
                    pass  # left out of the near-copy search, as a batch does
            students.append(written_student(student_result(student.name, records), locale))
        results = {
            **results_document([], seed=self.seed),
            "lang": locale.lang,
            "students": students,
        }
        results["trusted_submissions"] = self.trust
        # Which attempt each score is: recorded with the scores, in every export that has room.
        results["score_policy"] = self.policy
        ids = {s.name: s.id for s in session.scalars(select(Student))}

        def href(name: str) -> str:
            return f"students/{ids.get(name, 0)}"

        files: dict[str, bytes] = {}
        with tempfile.TemporaryDirectory(prefix="grade-serve-class-") as tmp:
            out = Path(tmp)
            add_review(
                out,
                results,
                course=course,
                exercises=exercises,
                sources=sources,
                review=Review(roster=roster_of(session)),
                locale=locale,
                report_href=href,
            )
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    files[str(path.relative_to(out))] = path.read_bytes()
        files["results.json"] = to_json(results).encode()
        files["grades.csv"] = export.grades_csv(results).encode()
        files["index.html"] = render_class_overview(
            results,
            locale=locale,
            templates=course.templates,
            title=course.title,
            report_href=href,
        ).encode()
        return ClassView(version, results, files)
