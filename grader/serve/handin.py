"""Take a submission in: check the file, then record it and its grading job in one transaction.

Nothing of the file runs here (the web process never runs a student's code):
it is only decoded, as a batch reads it, so a file that could never be
graded is refused at once with its reason instead of waiting in the queue.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.course import Course, CourseError
from grader.serve import clock, jobs
from grader.serve.database import reading, writing
from grader.serve.models import Submission
from grader.submission import MAX_BYTES, SourceFile, SubmissionError

__all__ = ["HandInError", "MAX_BYTES", "accept", "regrade"]


class HandInError(Exception):
    """A submission refused, with the HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Accepted:
    id: int
    exercise: str
    status: str
    repeated: bool  # the idempotency key named a submission already taken in


# Built once: a statement made anew for every request costs more than the INSERT itself.
_INSERT = insert(Submission).returning(Submission.id)


def _checked_name(filename: str) -> str:
    # Only the last part of what the browser sent: "..\\..\\x.py" or "a/b.py" is "x.py"/"b.py".
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    if not name or len(name) > 200:
        raise HandInError(400, "the file needs a name ending in .py or .ipynb")
    if PurePosixPath(name).suffix.lower() not in (".py", ".ipynb"):
        raise HandInError(415, f"{name}: expected a .py file or a .ipynb notebook")
    return name


def accept(
    engine: Engine,
    course: Course,
    student_id: int,
    exercise_ref: str,
    filename: str,
    raw: bytes,
    idempotency_key: str | None,
) -> Accepted:
    """Record the submission and queue its grading; return it (committed).

    Everything that can be done before writing is: the file is checked, the
    key looked up in a transaction that only reads, and the write is two
    INSERTs (the submission, its job) in one short transaction.
    """
    try:
        exercise = course.exercise(exercise_ref)
    except CourseError as exc:
        raise HandInError(404, str(exc)) from None
    name = _checked_name(filename)
    if len(raw) > MAX_BYTES:
        raise HandInError(413, f"{name}: larger than the limit of {MAX_BYTES // 1024 // 1024} MiB")
    try:
        # Decoded only (UTF-8 text, a notebook's JSON): refused now if it never could be graded.
        SourceFile(name, raw).source()
    except SubmissionError as exc:
        raise HandInError(422, str(exc)) from None
    key = (idempotency_key or "").strip()[:128] or "once:" + secrets.token_urlsafe(16)
    digest = hashlib.sha256(raw).hexdigest()
    if idempotency_key:
        earlier = _by_key(engine, student_id, key)
        if earlier is not None:
            return _repeat(earlier, exercise.name, digest)
    row = {
        "student_id": student_id,
        "exercise": exercise.name,
        "filename": name,
        "content": raw,
        "digest": digest,
        "idempotency_key": key,
        "status": "queued",
        "created_at": clock.now(),
    }
    try:
        with writing(engine) as session:
            submission_id = session.connection().execute(_INSERT, row).scalar_one()
            jobs.enqueue(session, "grade", submission_id)
    except IntegrityError:
        # The same key, sent twice at once: the other request took it in first.
        earlier = _by_key(engine, student_id, key)
        if earlier is None:
            raise
        return _repeat(earlier, exercise.name, digest)
    return Accepted(submission_id, exercise.name, "queued", repeated=False)


@dataclass(frozen=True)
class _Earlier:
    id: int
    exercise: str
    status: str
    digest: str


def _by_key(engine: Engine, student_id: int, key: str) -> _Earlier | None:
    # The columns only: the file's bytes stay in the database.
    with Session(reading(engine)) as session:
        row = session.execute(
            select(Submission.id, Submission.exercise, Submission.status, Submission.digest).where(
                Submission.student_id == student_id, Submission.idempotency_key == key
            )
        ).first()
    return None if row is None else _Earlier(row.id, row.exercise, row.status, row.digest)


def _repeat(earlier: _Earlier, exercise: str, digest: str) -> Accepted:
    if earlier.digest != digest or earlier.exercise != exercise:
        raise HandInError(
            422, "this idempotency key was used for another file: send a new key for a new file"
        )
    return Accepted(earlier.id, earlier.exercise, earlier.status, repeated=True)


def regrade(session: Session, course: Course, exercise_ref: str) -> int:
    """Queue every student's latest submission of the exercise graded with other checks.

    Returns how many were queued. A submission already graded with the current
    checks (their digest) is left alone: grading it again would give the same.
    """
    from grader.serve.standing import attempts_of

    try:
        exercise = course.exercise(exercise_ref)
    except CourseError as exc:
        raise HandInError(404, str(exc)) from None
    latest: dict[int, int] = {}
    stale: dict[int, bool] = {}
    for attempt in attempts_of(session):
        if attempt.exercise != exercise.name:
            continue
        latest[attempt.student_id] = attempt.id
        stale[attempt.id] = (
            attempt.result_id is not None and attempt.checks_digest != exercise.checks_digest
        )
    queued = 0
    for submission_id in latest.values():
        if stale[submission_id]:
            jobs.enqueue(session, "grade", submission_id, regrade=True)
            found = session.get(Submission, submission_id)
            if found is not None:
                found.status = "queued"
            queued += 1
    session.commit()
    return queued
