"""The server's tables: students, instructors, tokens, submissions, jobs, results, the
rules' decisions, sign-in tries, LTI platforms.

The schema is changed only by a migration in ``grader/serve/migrations``; a
test checks that the migrations give exactly these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Setting",
    "Student",
    "Instructor",
    "Token",
    "Submission",
    "Job",
    "Result",
    "LtiPlatform",
    "LtiLogin",
    "LtiContext",
    "LtiUser",
    "LtiLineItem",
    "SigninAttempt",
    "Extension",
    "Override",
    "CheckComment",
    "AuditEntry",
    "RegradeMessage",
]

# Named constraints: a migration can then drop or alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Setting(Base):
    """One value the whole server shares: the seed, the cookie secret, the roster's platform."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Student(Base):
    """A student of the roster; ``name`` is the roster's folder, as in ``grade batch``."""

    __tablename__ = "students"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # The roster's cells (normalised headers), for the gradebook exports.
    roster: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class Instructor(Base):
    """An instructor who signs in with a password (stored as an argon2 hash only)."""

    __tablename__ = "instructors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime())


class Token(Base):
    """A student's secret: a sign-in link (``link``) or a command-line token (``api``).

    Only the SHA-256 of the secret is kept: the secrets are 256 random bits, so a
    fast hash cannot be searched, and a copy of the database signs nobody in.
    """

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class Submission(Base):
    """One file a student handed in for one exercise, kept whole (its bytes) for good."""

    __tablename__ = "submissions"
    __table_args__ = (
        # A client that retries a request it got no reply to sends the same key:
        # the second request finds the first submission instead of making another.
        UniqueConstraint("student_id", "idempotency_key"),
        Index("ix_submissions_student_exercise", "student_id", "exercise"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    # queued, grading, graded, delayed (the environment failed: retried, never a zero),
    # refused (a rule of the course refused it: kept, never graded, with its reason)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(DateTime())
    refusal: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """A durable piece of work: recorded before it runs, claimed by one worker at a time.

    ``kind`` is ``grade`` today; other kinds (a grade passback to a learning
    platform) share the table, the claim and the retries.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "run_after"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=True, index=True
    )
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # queued, running, done
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_after: Mapped[datetime] = mapped_column(DateTime())
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class Result(Base):
    """A submission's grade with one version of the checks: written once, by one worker."""

    __tablename__ = "results"
    __table_args__ = (
        # Exactly once: a worker whose lease ran out while it still graded, racing the
        # worker that took the job over, cannot add a second result.
        UniqueConstraint("submission_id", "checks_digest"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    checks_digest: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column()
    max_score: Mapped[float] = mapped_column()
    # The exercise's record as grade_parcel returns it (results.json's exercise entry).
    document: Mapped[str] = mapped_column(Text)
    graded_at: Mapped[datetime] = mapped_column(DateTime())


class LtiPlatform(Base):
    """A learning platform registered with ``grade serve lti add-platform`` (LTI 1.3)."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    login_url: Mapped[str] = mapped_column(Text)  # the platform's OIDC authorization endpoint
    token_url: Mapped[str] = mapped_column(Text)  # its OAuth 2 token endpoint (AGS, NRPS)
    jwks_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class LtiLogin(Base):
    """One OIDC login, from its initiation to the launch it allows once.

    Kept in the database, keyed by the ``state`` sent to the platform, and not in
    a cookie: a platform that opens the tool in an iframe of another site gets no
    cookie of ours back (third-party cookies blocked), and every web process of
    the server sees the same row, so a nonce is used once across all of them.
    """

    __tablename__ = "lti_logins"
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    # Who the launch signed in, where it goes, and (deep linking) where to answer.
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target: Mapped[str | None] = mapped_column(Text, nullable=True)
    deep_link: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    continued: Mapped[bool] = mapped_column(Boolean, default=False)


class LtiContext(Base):
    """A course of a platform, with the service endpoints its last launch named."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("platform_id", "context_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    context_key: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    lineitems_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    memberships_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class LtiUser(Base):
    """A platform's user (its ``sub``) and who they are here: a student or an instructor."""

    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), nullable=True, index=True
    )
    instructor_id: Mapped[int | None] = mapped_column(
        ForeignKey("instructors.id", ondelete="CASCADE"), nullable=True
    )
    # The course the user last came from: where their scores go.
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime())


class LtiLineItem(Base):
    """The gradebook column of one exercise in one platform course: made once, then reused."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("context_id", "exercise"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class SigninAttempt(Base):
    """A wrong sign-in secret or password, by address, for the slowing of guesses.

    In the database, not in a process: every web process of the server (``--workers``,
    several machines) counts the same tries, so more processes give no more guesses.
    """

    __tablename__ = "signin_attempts"
    __table_args__ = (Index("ix_signin_attempts_address_at", "address", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(), index=True)


class Extension(Base):
    """A later deadline for one student and exercise; the newest one granted counts."""

    __tablename__ = "extensions"
    __table_args__ = (Index("ix_extensions_student_exercise", "student_id", "exercise"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(255))
    until: Mapped[datetime] = mapped_column(DateTime())
    granted_by: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime())


class Override(Base):
    """An instructor's score for one student and exercise; the newest one counts.

    ``score`` None takes an override back: the computed score counts again.
    """

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_student_exercise", "student_id", "exercise"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(255))
    score: Mapped[float | None] = mapped_column(nullable=True)
    comment: Mapped[str] = mapped_column(Text)
    given_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime())


class CheckComment(Base):
    """An instructor's comment on one check's result of a submission, shown to the student."""

    __tablename__ = "check_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    check: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text)
    given_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime())


class AuditEntry(Base):
    """One change a person made to what counts: who, when, the old and new value, and why."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_student_exercise", "student_id", "exercise"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime())
    who: Mapped[str] = mapped_column(String(255))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    exercise: Mapped[str] = mapped_column(String(255))
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=True
    )
    # override, extension, check-comment
    what: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    why: Mapped[str] = mapped_column(Text)


class RegradeMessage(Base):
    """One message of a submission's regrade thread: a student's question or the answer."""

    __tablename__ = "regrade_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    # student or instructor: the thread is open while a student's message is the last
    author_role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime())
