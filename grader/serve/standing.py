"""Which attempt counts, the final score, and the class's results document built from the database.

The final score of a student's exercise is decided in one place,
``final_scores``: the attempt that counts (best or last), its late penalty,
then any instructor's override. Whatever may change it (a graded attempt, an
override, an extension) calls ``grader.serve.passback.enqueue`` in its own
transaction, so the learning platform's gradebook hears of it.

The document is the one ``grade batch`` writes (``grader.drivers.batch.assemble``):
one record per student and exercise, "missing" where nothing was handed in,
the review (mistakes, near-copies, gradebook) added by ``grader.review.overview``, and
every export written by the same ``grader.render.export`` functions.
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

from grader.course.find import Course
from grader.course.rules import CourseRules, days_late
from grader.judge.checks import max_score
from grader.render.locale import Locale
from grader.score.points import results_document, student_result, to_json, unjudged_result
from grader.score.results import ExerciseResult
from grader.serve.accounts import roster_of
from grader.serve.models import Extension, Override, Result, Student, Submission

__all__ = [
    "POLICIES",
    "Attempt",
    "attempts_of",
    "counted",
    "FinalScore",
    "final_score",
    "exercise_record",
    "Final",
    "final_scores",
    "deadline_of",
    "late_days_spent",
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
    refusal: str | None  # why the course's rules refused it (status "refused")


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
            Submission.refusal,
        )
        .select_from(Submission)
        .outerjoin(latest, latest.c.submission_id == Submission.id)
        .outerjoin(Result, Result.id == latest.c.result_id)
        .order_by(Submission.id)
    )
    if student_id is not None:
        query = query.where(Submission.student_id == student_id)
    return [Attempt(*row) for row in session.execute(query)]


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


def deadlines(session: Session, student_id: int | None = None) -> dict[tuple[int, str], datetime]:
    """Return each (student, exercise)'s extended deadline: the newest extension granted."""
    query = select(Extension.student_id, Extension.exercise, Extension.until).order_by(Extension.id)
    if student_id is not None:
        query = query.where(Extension.student_id == student_id)
    return {(sid, exercise): until for sid, exercise, until in session.execute(query)}


def deadline_of(
    session: Session, rules: CourseRules, student_id: int, exercise: str
) -> datetime | None:
    """Return the deadline that holds for one student: their extension's, or the exercise's."""
    return deadlines(session, student_id).get((student_id, exercise), rules.of(exercise).deadline)


def late_days_spent(
    session: Session, rules: CourseRules, student_id: int, attempts: list[Attempt] | None = None
) -> dict[str, int]:
    """Count, per exercise under late days, the days a student spent: their latest hand-in's.

    An exercise costs the days its latest taken hand-in came after the deadline
    (a refused one is never taken); exercises on time cost nothing.
    """
    extended = deadlines(session, student_id)
    spent: dict[str, int] = {}
    for attempt in attempts if attempts is not None else attempts_of(session, student_id):
        exercise_rules = rules.of(attempt.exercise)
        if attempt.status == "refused" or exercise_rules.late != "late-days":
            continue
        deadline = extended.get((student_id, attempt.exercise), exercise_rules.deadline)
        days = days_late(attempt.created_at, deadline)
        spent[attempt.exercise] = max(spent.get(attempt.exercise, 0), days)
    return spent


@dataclass(frozen=True)
class Final:
    """What counts of one student's exercise: the raw score, the penalty, an override, the final."""

    student_id: int
    exercise: str
    attempt: Attempt | None  # the attempt that counts (None: only an override)
    raw: float | None
    max_score: float | None
    penalty: float  # points taken for lateness
    override: float | None
    comment: str  # the override's
    final: float


def final_scores(
    session: Session, rules: CourseRules, policy: str, student_id: int | None = None
) -> dict[tuple[int, str], Final]:
    """Return the final score of every (student, exercise) with a graded attempt or an override.

    The one definition of what counts: the attempt ``policy`` picks (best or
    last raw score), less its late penalty (from the deadline that holds for
    the student, extensions included), unless an instructor's override says
    otherwise.
    """
    chosen = counted(attempts_of(session, student_id), policy)
    extended = deadlines(session, student_id)
    overrides: dict[tuple[int, str], Override] = {}
    query = select(Override).order_by(Override.id)
    if student_id is not None:
        query = query.where(Override.student_id == student_id)
    for given_row in session.scalars(query):
        overrides[(given_row.student_id, given_row.exercise)] = given_row
    finals: dict[tuple[int, str], Final] = {}
    for key in sorted({*chosen, *overrides}):
        attempt = chosen.get(key)
        exercise_rules = rules.of(key[1])
        raw = attempt.score if attempt is not None else None
        penalty = 0.0
        if attempt is not None and raw is not None:
            deadline = extended.get(key, exercise_rules.deadline)
            penalty = round(raw * exercise_rules.late_share(attempt.created_at, deadline), 4)
        override = overrides.get(key)
        given = override.score if override is not None else None
        if given is None and attempt is None:
            continue  # an override taken back, and nothing graded
        final = given if given is not None else round((raw or 0.0) - penalty, 4)
        finals[key] = Final(
            key[0],
            key[1],
            attempt,
            raw,
            attempt.max_score if attempt is not None else None,
            penalty,
            given,
            override.comment if override is not None and given is not None else "",
            final,
        )
    return finals


@dataclass(frozen=True)
class FinalScore:
    """The score of a student's exercise that counts: what the gradebook shows."""

    score: float
    max_score: float | None  # None: only an override, nothing graded to say out of what
    submission_id: int | None


def final_score(
    session: Session, rules: CourseRules, student_id: int, exercise: str, policy: str | None = None
) -> FinalScore | None:
    """Return the student's final score of the exercise (None while nothing counts).

    ``final_scores``'s, for one student and exercise. ``policy`` left out is the
    server's, as ``grade serve --score-policy`` recorded it: a worker on another
    machine posts the score the class page shows.
    """
    from grader.serve.database import setting

    chosen = policy or setting(session, "score_policy") or "best"
    final = final_scores(session, rules, chosen, student_id).get((student_id, exercise))
    if final is None:
        return None
    submission_id = final.attempt.id if final.attempt is not None else None
    return FinalScore(final.final, final.max_score, submission_id)


def exercise_record(document: str) -> dict[str, Any]:
    """Return a stored result as results.json's exercise record (without the digests)."""
    record = json.loads(document)
    record.pop("file_digest", None)
    record.pop("checks_digest", None)
    return record


def missing_record(course: Course, name: str) -> ExerciseResult:
    """Return the record of an exercise nothing was handed in for, as a batch writes it."""
    from grader.score.results import hint

    exercise = course.exercise(name)
    return unjudged_result(
        exercise.name, exercise.title, "missing", hint("missing"), max_score(exercise.checks)
    )


@dataclass(frozen=True)
class ClassView:
    """The class as ``grade batch`` would write it: the overview page and every export."""

    version: tuple[int, ...]
    results: dict[str, Any]
    files: dict[str, bytes]  # results.json, grades.csv, mistakes.csv, similarity/..., gradebook


class ClassViews:
    """Build the class view from the database, again only when a grade or a student changed."""

    def __init__(
        self,
        course: Course,
        *,
        seed: int,
        lang: str,
        trust: bool,
        policy: str,
        rules: CourseRules | None = None,
    ) -> None:
        self.course = course
        self.rules = rules or CourseRules()
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
            int(session.scalar(select(func.max(Override.id))) or 0),
            int(session.scalar(select(func.max(Extension.id))) or 0),
        )
        with self._lock:
            if self._cached is None or self._cached.version != version:
                self._cached = self._build(session, version)
            return self._cached

    def _build(self, session: Session, version: tuple[int, ...]) -> ClassView:
        from grader.render import export
        from grader.render.report import render_class_overview
        from grader.review.overview import Review, add_review
        from grader.score.results import written_student
        from grader.submission.source import SourceFile, SubmissionError

        course = self.course
        exercises = list(course.exercises)
        locale = Locale(course.templates, self.lang)
        finals = final_scores(session, self.rules, self.policy)
        chosen = {key: f.attempt for key, f in finals.items() if f.attempt is not None}
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
        rows: list[dict[str, Any]] = []
        sources: dict[str, dict[str, str]] = {}
        for student in session.scalars(select(Student).order_by(Student.name)):
            records: list[Any] = []
            work = sources.setdefault(student.name, {})
            for exercise in exercises:
                final = finals.get((student.id, exercise.name))
                attempt = chosen.get((student.id, exercise.name))
                if attempt is None or attempt.result_id is None:
                    record: Any = missing_record(course, exercise.name)
                else:
                    record = exercise_record(documents[attempt.result_id])
                if final is not None:
                    # What counts, in every export: after the late penalty and any override.
                    record["score"] = final.final
                    rows.append(_score_row(student.name, exercise.name, final))
                records.append(record)
                if attempt is None:
                    continue
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
        files["scores.csv"] = export.scores_csv(rows).encode()
        files["index.html"] = render_class_overview(
            results,
            locale=locale,
            templates=course.templates,
            title=course.title,
            report_href=href,
        ).encode()
        return ClassView(version, results, files)


def _score_row(student: str, exercise: str, final: Final) -> dict[str, Any]:
    return {
        "student": student,
        "exercise": exercise,
        "raw_score": final.raw,
        "penalty": final.penalty,
        "override": final.override,
        "final_score": final.final,
        "comment": final.comment,
    }
