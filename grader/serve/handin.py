"""Take a submission in: check the file, then record it and its grading job in one transaction.

Nothing of the file runs here (the web process never runs a student's code):
it is only decoded, as a batch reads it, so a file that could never be
graded is refused at once with its reason instead of waiting in the queue.

The course's rules are asked here too (``refusal``): before the opening,
after the deadline, with no late day or attempt left, or within the cool-off,
the submission is kept (status ``refused``, with the reason) but never graded,
and the student is told why and when the next attempt is possible.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.course.find import Course, CourseError
from grader.course.rules import CourseRules, days_late
from grader.serve import clock, jobs
from grader.serve.database import reading, written_together
from grader.serve.models import Student, Submission
from grader.serve.prepared import Prepared
from grader.submission.source import MAX_BYTES, SourceFile, SubmissionError

__all__ = [
    "HandIn",
    "HandInError",
    "MAX_BYTES",
    "accept",
    "outcome",
    "prepare",
    "refusal",
    "regrade",
]


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
    refused: tuple[int, str] | None = None  # the rules' refusal: its HTTP status and reason


# Built once: a statement made anew for every request costs more than the INSERT itself.
_INSERT = Prepared(insert(Submission).returning(Submission.id))


def _checked_name(filename: str) -> str:
    # Only the last part of what the browser sent: "..\\..\\x.py" or "a/b.py" is "x.py"/"b.py".
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    if not name or len(name) > 200:
        raise HandInError(400, "the file needs a name ending in .py or .ipynb")
    if PurePosixPath(name).suffix.lower() not in (".py", ".ipynb"):
        raise HandInError(415, f"{name}: expected a .py file or a .ipynb notebook")
    return name


@dataclass(frozen=True)
class HandIn:
    """A file checked and ready to be recorded: everything done that needs no database."""

    exercise: str
    name: str
    raw: bytes
    digest: str
    key: str
    keyed: bool  # the client sent the key (a retry may name a submission already taken)

    def record(self, session: Session, student_id: int, rules: CourseRules) -> Accepted:
        """Record it in ``session``'s write transaction (with its job, unless refused).

        One hand-in of a student at a time (PostgreSQL: the student's row locked;
        SQLite: every write transaction holds the write lock, and the hand-ins
        that share one run one after the other in it), so that twenty sent at once
        with one attempt left find the attempts each other took and only one is
        graded. A course without rules needs none of it. A refused hand-in is
        recorded too, and returned with its refusal (raised by ``outcome`` once
        the transaction is committed).
        """
        if self.keyed:
            earlier = _by_key(session, student_id, self.key)
            if earlier is not None:
                return _repeat(earlier, self.exercise, self.digest)
        refused = None
        now = clock.now()
        if rules.exercises:
            session.scalar(select(Student.id).where(Student.id == student_id).with_for_update())
            refused = refusal(session, rules, student_id, self.exercise, now)
        row = {
            "student_id": student_id,
            "exercise": self.exercise,
            "filename": self.name,
            "content": self.raw,
            "digest": self.digest,
            "idempotency_key": self.key,
            "status": "queued" if refused is None else "refused",
            "created_at": now,
            "refusal": None if refused is None else refused[1],
        }
        ((submission_id,),) = _INSERT.rows(session, row)
        if refused is None:
            jobs.enqueue(session, "grade", submission_id)
            return Accepted(submission_id, self.exercise, "queued", repeated=False)
        return Accepted(submission_id, self.exercise, "refused", False, refused)

    def again(self, engine: Engine, student_id: int) -> Accepted:
        """The answer to a hand-in whose key another request took in first, at the same time."""
        with Session(reading(engine)) as session:
            earlier = _by_key(session, student_id, self.key)
        if earlier is None:
            raise HandInError(503, "the hand-in could not be recorded: send it again")
        return _repeat(earlier, self.exercise, self.digest)


def prepare(
    course: Course, exercise_ref: str, filename: str, raw: bytes, idempotency_key: str | None
) -> HandIn:
    """Check the file and name its exercise (HandInError when either is wrong).

    Nothing of the file runs: it is only decoded, as a batch reads it.
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
    given = (idempotency_key or "").strip()[:128]
    return HandIn(
        exercise.name,
        name,
        raw,
        hashlib.sha256(raw).hexdigest(),
        given or "once:" + secrets.token_urlsafe(16),
        keyed=bool(given),
    )


def outcome(accepted: Accepted) -> Accepted:
    """Return a hand-in that was taken; raise HandInError for one the rules refused."""
    if accepted.refused is not None:
        raise HandInError(*accepted.refused)
    return accepted


def accept(
    engine: Engine,
    course: Course,
    student_id: int,
    exercise_ref: str,
    filename: str,
    raw: bytes,
    idempotency_key: str | None,
    rules: CourseRules | None = None,
) -> Accepted:
    """Record the submission and queue its grading; return it (committed).

    The file is checked first (``prepare``); the write is one short transaction:
    the key looked up, the course's rules applied, two INSERTs (the submission,
    its job). On SQLite the hand-ins that arrive together share one transaction
    and its fsync (``written_together``). A submission the rules refuse is
    recorded too (never graded), then HandInError says why.
    """
    hand_in = prepare(course, exercise_ref, filename, raw, idempotency_key)
    applied = rules or CourseRules()
    try:
        # Committed (on disk) before the student is told it was taken.
        taken = written_together(
            engine, lambda session: hand_in.record(session, student_id, applied)
        )
    except IntegrityError:
        # The same key, sent twice at once: the other request took it in first.
        return hand_in.again(engine, student_id)
    return outcome(taken)


def refusal(
    session: Session, rules: CourseRules, student_id: int, exercise: str, now: datetime
) -> tuple[int, str] | None:
    """Say why the course's rules refuse a hand-in of ``exercise`` at ``now`` (None: taken).

    The reason names the time in the course's zone: when the exercise opens,
    when the deadline was, when the next attempt is possible.
    """
    from grader.serve.standing import attempts_of, deadlines, late_days_spent

    own = rules.of(exercise)
    if own.opens is not None and now < own.opens:
        return 403, f"{exercise} opens at {own.local(own.opens)}: hand it in from then on"
    deadline = deadlines(session, student_id).get((student_id, exercise), own.deadline)
    if deadline is not None and own.past_cutoff(now, deadline):
        if own.late == "refuse":
            return 403, (
                f"the deadline of {exercise} was {own.local(deadline)}: nothing is taken after it"
            )
        assert own.cutoff_days is not None
        closed = deadline + timedelta(days=own.cutoff_days)
        return 403, (
            f"late hand-ins of {exercise} closed at {own.local(closed)}: nothing is taken after it"
        )
    attempts = attempts_of(session, student_id)
    if own.late == "late-days" and deadline is not None and now > deadline:
        spent = late_days_spent(session, rules, student_id, attempts)
        elsewhere = sum(days for name, days in spent.items() if name != exercise)
        needed = max(days_late(now, deadline), spent.get(exercise, 0))
        if elsewhere + needed > rules.late_days:
            left = max(rules.late_days - elsewhere, 0)
            return 403, (
                f"the deadline of {exercise} was {own.local(deadline)}: this hand-in needs "
                f"{needed} late day(s) and you have {left} of {rules.late_days} left"
            )
    taken = [a for a in attempts if a.exercise == exercise and a.status != "refused"]
    if own.attempts is not None and len(taken) >= own.attempts:
        return 429, f"you have used all {own.attempts} attempts of {exercise}: no attempt is left"
    if own.cooloff_minutes and taken:
        after = taken[-1].created_at + timedelta(minutes=own.cooloff_minutes)
        if now < after:
            return 429, (
                f"one attempt of {exercise} per {own.cooloff_minutes:g} minute(s): "
                f"the next is possible at {own.local(after)}"
            )
    return None


@dataclass(frozen=True)
class _Earlier:
    id: int
    exercise: str
    status: str
    digest: str
    refusal: str | None


# The columns only: the file's bytes stay in the database. Built once, as _INSERT.
_BY_KEY = Prepared(
    select(
        Submission.id, Submission.exercise, Submission.status, Submission.digest, Submission.refusal
    ).where(
        Submission.student_id == bindparam("student_id"),
        Submission.idempotency_key == bindparam("key"),
    )
)


def _by_key(session: Session, student_id: int, key: str) -> _Earlier | None:
    row = _BY_KEY.first(session, {"student_id": student_id, "key": key})
    return None if row is None else _Earlier(*row)


def _repeat(earlier: _Earlier, exercise: str, digest: str) -> Accepted:
    if earlier.digest != digest or earlier.exercise != exercise:
        raise HandInError(
            422, "this idempotency key was used for another file: send a new key for a new file"
        )
    if earlier.status == "refused":
        # A retry of a refused hand-in (its reply was lost) is told the same refusal.
        raise HandInError(403, earlier.refusal or "this hand-in was refused")
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
