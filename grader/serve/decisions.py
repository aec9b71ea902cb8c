"""The instructor's decisions: extensions, score overrides, comments on a check's result, and
the regrade threads where a student asks about a result and the instructor answers.

Each one is kept (a new row; nothing is updated in place) and written to the
audit log in the same transaction: who, when, the old value, the new value,
and why. A decision that can move a final score queues its passback
(``passback.enqueue``) in that transaction too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.course.find import Course, CourseError
from grader.course.rules import CourseRules
from grader.serve import clock, passback, standing
from grader.serve.models import (
    AuditEntry,
    CheckComment,
    Extension,
    Override,
    RegradeMessage,
    Submission,
)

__all__ = [
    "DecisionError",
    "extend",
    "override",
    "comment_check",
    "history",
    "post_message",
    "thread",
    "open_requests",
]

# A message is read on a page: long enough for a careful question, short enough to read.
MAX_MESSAGE = 4000


class DecisionError(Exception):
    """A decision refused, with one line saying why (the form's or the command's mistake)."""


def _why(text: str, what: str) -> str:
    why = text.strip()
    if not why:
        raise DecisionError(f"{what} needs a reason: it is kept in the audit log")
    return why


def _exercise(course: Course, ref: str) -> str:
    try:
        return course.exercise(ref).name
    except CourseError as exc:
        raise DecisionError(str(exc)) from None


def _audit(
    session: Session,
    who: str,
    student_id: int,
    exercise: str,
    what: str,
    old: str | None,
    new: str | None,
    why: str,
    submission_id: int | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=clock.now(),
            who=who,
            student_id=student_id,
            exercise=exercise,
            submission_id=submission_id,
            what=what,
            old=old,
            new=new,
            why=why,
        )
    )


def extend(
    session: Session,
    course: Course,
    rules: CourseRules,
    student_id: int,
    exercise_ref: str,
    until: datetime,
    who: str,
    reason: str,
) -> Extension:
    """Give one student a later deadline (naive UTC) for one exercise; committed."""
    exercise = _exercise(course, exercise_ref)
    why = _why(reason, "an extension")
    own = rules.of(exercise)
    old = standing.deadline_of(session, rules, student_id, exercise)
    granted = Extension(
        student_id=student_id,
        exercise=exercise,
        until=until,
        granted_by=who,
        reason=why,
        created_at=clock.now(),
    )
    session.add(granted)
    _audit(
        session,
        who,
        student_id,
        exercise,
        "extension",
        None if old is None else own.local(old),
        own.local(until),
        why,
    )
    passback.enqueue(session, student_id, exercise)  # the late penalty may change
    session.commit()
    return granted


def override(
    session: Session,
    course: Course,
    rules: CourseRules,
    policy: str,
    student_id: int,
    exercise_ref: str,
    score: float | None,
    who: str,
    comment: str,
    submission_id: int | None = None,
) -> Override:
    """Set the score that counts for one student's exercise (None: take an override back)."""
    exercise = _exercise(course, exercise_ref)
    why = _why(comment, "an override")
    if score is not None:
        top = course.exercise(exercise)
        from grader.judge.checks import max_score

        highest = max_score(top.checks)
        if not 0 <= score <= highest:
            raise DecisionError(f"the score must be from 0 to {highest:g}, not {score:g}")
    before = standing.final_scores(session, rules, policy, student_id).get((student_id, exercise))
    given = Override(
        student_id=student_id,
        exercise=exercise,
        score=score,
        comment=why,
        given_by=who,
        created_at=clock.now(),
    )
    session.add(given)
    _audit(
        session,
        who,
        student_id,
        exercise,
        "override",
        None if before is None else f"{before.final:g}",
        None if score is None else f"{score:g}",
        why,
        submission_id,
    )
    passback.enqueue(session, student_id, exercise)
    session.commit()
    return given


def comment_check(
    session: Session, submission: Submission, check: str, text: str, who: str
) -> CheckComment:
    """Comment on one check's result of a submission (the student reads it in their report)."""
    words = _why(text, "a comment")
    if not check.strip():
        raise DecisionError("name the check the comment is about")
    earlier = session.scalar(
        select(CheckComment.comment)
        .where(CheckComment.submission_id == submission.id, CheckComment.check == check)
        .order_by(CheckComment.id.desc())
        .limit(1)
    )
    made = CheckComment(
        submission_id=submission.id,
        check=check,
        comment=words,
        given_by=who,
        created_at=clock.now(),
    )
    session.add(made)
    _audit(
        session,
        who,
        submission.student_id,
        submission.exercise,
        "check-comment",
        earlier,
        words,
        f"on {check}",
        submission.id,
    )
    session.commit()
    return made


def comments_of(session: Session, submission_id: int) -> dict[str, str]:
    """Return each check's newest comment on one submission."""
    found: dict[str, str] = {}
    for check, text in session.execute(
        select(CheckComment.check, CheckComment.comment)
        .where(CheckComment.submission_id == submission_id)
        .order_by(CheckComment.id)
    ):
        found[check] = text
    return found


def history(session: Session, student_id: int, exercise: str) -> list[AuditEntry]:
    """Return every decision on one student's exercise, oldest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.student_id == student_id, AuditEntry.exercise == exercise)
            .order_by(AuditEntry.id)
        )
    )


def post_message(
    session: Session, submission: Submission, role: str, author: str, text: str
) -> RegradeMessage:
    """Add a message to a submission's regrade thread: a student's question, or an answer."""
    words = text.strip()
    if not words:
        raise DecisionError("write what the message is about: an empty one is not sent")
    if len(words) > MAX_MESSAGE:
        raise DecisionError(f"a message holds at most {MAX_MESSAGE} characters")
    if role == "student" and submission.status != "graded":
        raise DecisionError("a regrade can be asked once the submission is graded")
    message = RegradeMessage(
        submission_id=submission.id,
        author_role=role,
        author=author,
        text=words,
        created_at=clock.now(),
    )
    session.add(message)
    session.commit()
    return message


def thread(session: Session, submission_id: int) -> list[RegradeMessage]:
    """Return a submission's regrade thread, oldest first."""
    return list(
        session.scalars(
            select(RegradeMessage)
            .where(RegradeMessage.submission_id == submission_id)
            .order_by(RegradeMessage.id)
        )
    )


def open_requests(session: Session) -> list[tuple[Submission, RegradeMessage]]:
    """Return every submission whose thread waits for an answer, with its last message."""
    last: dict[int, RegradeMessage] = {}
    for message in session.scalars(select(RegradeMessage).order_by(RegradeMessage.id)):
        last[message.submission_id] = message
    waiting = [m for m in last.values() if m.author_role == "student"]
    found = []
    for message in sorted(waiting, key=lambda m: m.id):
        submission = session.get(Submission, message.submission_id)
        if submission is not None:
            found.append((submission, message))
    return found
