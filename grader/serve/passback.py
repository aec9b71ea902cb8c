"""Grade passback: a student's final score sent to the platform's gradebook, as a durable job.

``enqueue`` is called wherever a student's final score of an exercise may
have changed (a graded attempt recorded, a regrade); it records a job of
kind ``passback`` in the jobs table, in the caller's transaction, so a score
recorded is a score that will be sent, whatever restarts in between. The
job reads the score to send when it runs (``standing.final_score``), so a
job that waited behind a newer grade sends the newer one, and the platform,
keeping the score with the latest timestamp, ends with the final one.
A job the platform keeps refusing is retried with growing delays, then
marked failed, with its reason, on the instructor's passback page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.course.find import Course, CourseError
from grader.course.rules import load_rules
from grader.judge.checks import max_score
from grader.serve import clock, jobs
from grader.serve.lti_services import Access, PlatformError, Score, Services
from grader.serve.models import Job, LtiContext, LtiLineItem, LtiPlatform, LtiUser, Student
from grader.serve.standing import final_score

__all__ = ["KIND", "MOST_TRIES", "enqueue", "run", "Passback", "troubled", "retry_failed"]

KIND = "passback"
# With the jobs table's doubling delays (5 s up to 10 min), about an hour and a half of tries.
MOST_TRIES = 15


def _link(session: Session, student_id: int) -> LtiUser | None:
    return session.scalar(
        select(LtiUser)
        .where(LtiUser.student_id == student_id, LtiUser.context_id.is_not(None))
        .order_by(LtiUser.id.desc())
        .limit(1)
    )


def enqueue(session: Session, student_id: int, exercise: str) -> int | None:
    """Record that the student's final score of ``exercise`` is to be sent; return the job's id.

    Called in the transaction of every change that may move a final score (a
    graded attempt, an override, an extension), so a restart loses none. None:
    the student has no platform to send it to.

    A job already waiting for the same student and exercise is enough: it reads
    the score when it runs.
    """
    if _link(session, student_id) is None:
        return None  # the student never came from a platform: nothing to send
    for waiting in session.scalars(
        select(Job).where(Job.kind == KIND, Job.status == "queued", Job.submission_id.is_(None))
    ):
        payload = waiting.payload or {}
        if payload.get("student_id") == student_id and payload.get("exercise") == exercise:
            return waiting.id
    return jobs.enqueue(session, KIND, None, student_id=student_id, exercise=exercise)


def _timestamp() -> str:
    return clock.now().replace(tzinfo=timezone.utc).isoformat(timespec="milliseconds")


def run(engine: Engine, course: Course, claimed: jobs.Claimed, services: Services) -> str:
    """Send the score a passback job names; return what became of it (sent, failed, retry).

    The database is read before and written after the platform's calls, never
    held open across them (see ``lti_services.Access``).
    """
    student_id = int(claimed.payload["student_id"])
    exercise = str(claimed.payload["exercise"])
    with Session(engine) as session:
        link = _link(session, student_id)
        final = final_score(session, load_rules(course), student_id, exercise)
        if link is None or final is None:
            jobs.finish(session, claimed.id)  # nothing (left) to send
            session.commit()
            return "nothing"
        context = session.get(LtiContext, link.context_id)
        platform = session.get(LtiPlatform, link.platform_id)
        assert context is not None and platform is not None
        access = Access.of(session, platform)
        context_id, lineitems_url, subject = context.id, context.lineitems_url, link.subject
        known = session.scalar(
            select(LtiLineItem.url).where(
                LtiLineItem.context_id == context_id, LtiLineItem.exercise == exercise
            )
        )
    maximum: float | None
    try:
        found = course.exercise(exercise)
        label, maximum = f"{found.name}: {found.title}", max_score(found.checks)
    except CourseError:
        label, maximum = exercise, final.max_score
    out_of = final.max_score if final.max_score is not None else maximum
    if out_of is None:
        # Only an override, of an exercise the course no longer has: out of what is unknown.
        with Session(engine) as session, session.begin():
            jobs.finish(session, claimed.id)
        return "nothing"
    try:
        if known is None:
            if not lineitems_url:
                raise PlatformError("the course's launches named no line items service (AGS)")
            known = services.line_item(access, lineitems_url, exercise, label, out_of)
            _keep_line_item(engine, context_id, exercise, known)
        score = Score(subject, final.score, out_of, _timestamp())
        services.post_score(access, known, score)
    except PlatformError as exc:
        with Session(engine) as session, session.begin():
            if claimed.tries >= MOST_TRIES:
                session.execute(
                    update(Job)
                    .where(Job.id == claimed.id)
                    .values(status="failed", worker=None, lease_until=None, last_error=str(exc))
                )
                return "failed"
            jobs.retry_later(session, claimed, str(exc))
        return "retry"
    with Session(engine) as session, session.begin():
        jobs.finish(session, claimed.id)
    return "sent"


def _keep_line_item(engine: Engine, context_id: int, exercise: str, url: str) -> None:
    try:
        with Session(engine) as session, session.begin():
            session.add(
                LtiLineItem(
                    context_id=context_id, exercise=exercise, url=url, created_at=clock.now()
                )
            )
    except IntegrityError:
        pass  # another worker kept the same line item first: one row per course and exercise


@dataclass(frozen=True)
class Passback:
    """A passback the platform refused: failed for good, or waiting for its next try."""

    job_id: int
    student: str
    exercise: str
    status: str
    tries: int
    error: str
    next_try: datetime | None


def troubled(session: Session) -> list[Passback]:
    """Return the passbacks that failed or are being retried, newest first, with why."""
    names = {ident: name for ident, name in session.execute(select(Student.id, Student.name))}
    found = []
    for job in session.scalars(
        select(Job)
        .where(Job.kind == KIND, Job.last_error.is_not(None), Job.status != "done")
        .order_by(Job.id.desc())
    ):
        payload = job.payload or {}
        found.append(
            Passback(
                job.id,
                names.get(int(str(payload.get("student_id", 0))), "?"),
                str(payload.get("exercise", "?")),
                job.status,
                job.tries,
                job.last_error or "",
                job.run_after if job.status == "queued" else None,
            )
        )
    return found


def retry_failed(session: Session) -> int:
    """Queue every failed passback again, now; return how many."""
    done = session.execute(
        update(Job)
        .where(Job.kind == KIND, Job.status == "failed")
        .values(status="queued", run_after=clock.now(), tries=0)
    )
    return int(getattr(done, "rowcount", 0) or 0)
