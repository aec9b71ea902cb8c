"""The instructor's decisions: extensions, score overrides and comments on a check's result.

Each one is kept (a new row; nothing is updated in place) and written to the
audit log in the same transaction: who, when, the old value, the new value,
and why. A decision that can move a final score calls ``standing.changed``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.course import Course, CourseError
from grader.rules import CourseRules
from grader.serve import clock, standing
from grader.serve.models import AuditEntry, CheckComment, Extension, Override, Submission

__all__ = ["DecisionError", "extend", "override", "comment_check", "history"]


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
    standing.changed(session, student_id, exercise)  # the late penalty may change
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
        from grader.judge import max_score

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
    standing.changed(session, student_id, exercise)
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
