"""The durable queue: jobs recorded in the database before they run, claimed with a lease.

A job is claimed by one worker at a time: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (workers pass over rows another one is claiming instead of
waiting for it), and on SQLite a single ``UPDATE ... WHERE status='queued'``
that only one writer can win (SQLite has one writer at a time). The claim
carries a lease that the worker's heartbeat extends; a job whose lease ran
out (its worker was killed, its machine lost) is queued again by the next
claim, so nothing accepted is lost. Why a table and not a queue library:
docs/server.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from grader.serve import clock
from grader.serve.models import Job
from grader.serve.prepared import Prepared

__all__ = ["LEASE", "Claimed", "enqueue", "claim", "heartbeat", "finish", "retry_later"]

LEASE = timedelta(seconds=60)
# A job the environment keeps failing is retried ever more slowly, up to this.
MOST_DELAY = timedelta(minutes=10)


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds until ``lease_until`` (extended by its heartbeat)."""

    id: int
    kind: str
    submission_id: int | None
    payload: dict[str, Any]
    tries: int


# Built once: a statement made anew for every hand-in costs more than the INSERT itself.
_INSERT = Prepared(insert(Job).returning(Job.id))


def enqueue(session: Session, kind: str, submission_id: int | None = None, **payload: Any) -> int:
    """Record a job to run as soon as a worker is free (in the caller's transaction).

    Returns its id.
    """
    now = clock.now()
    row = {
        "kind": kind,
        "submission_id": submission_id,
        "payload": payload,
        "status": "queued",
        "run_after": now,
        "tries": 0,
        "created_at": now,
    }
    ((job_id,),) = _INSERT.rows(session, row)
    return int(job_id)


def _requeue_expired(session: Session, now: datetime) -> None:
    # A worker killed mid-job stops extending its lease: give the job to someone else.
    session.execute(
        update(Job)
        .where(Job.status == "running", Job.lease_until < now)
        .values(status="queued", worker=None, lease_until=None, run_after=now)
    )


def claim(
    session: Session,
    worker: str,
    kinds: tuple[str, ...] = ("grade",),
    lease: timedelta = LEASE,
) -> Claimed | None:
    """Take the oldest job that is due, for ``worker``; None when there is none.

    Commits: the claim must be visible to every other worker at once.
    """
    now = clock.now()
    with session.begin():
        _requeue_expired(session, now)
        due = and_(Job.status == "queued", Job.run_after <= now, Job.kind.in_(kinds))
        held = {"status": "running", "worker": worker, "lease_until": now + lease}
        if session.get_bind().dialect.name == "postgresql":
            job_id = session.scalar(
                select(Job.id)
                .where(due)
                .order_by(Job.run_after, Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job_id is None:
                return None
            session.execute(update(Job).where(Job.id == job_id).values(**held, tries=Job.tries + 1))
        else:
            # One statement, under SQLite's single writer lock (BEGIN IMMEDIATE): the
            # status test in its WHERE makes a second claimer of the same row find none.
            oldest = select(Job.id).where(due).order_by(Job.run_after, Job.id).limit(1)
            job_id = session.scalar(
                update(Job)
                .where(Job.id == oldest.scalar_subquery(), Job.status == "queued")
                .values(**held, tries=Job.tries + 1)
                .returning(Job.id)
            )
            if job_id is None:
                return None
        job = session.get(Job, job_id, populate_existing=True)
        assert job is not None
        return Claimed(job.id, job.kind, job.submission_id, dict(job.payload), job.tries)


def heartbeat(session: Session, job_id: int, worker: str, lease: timedelta = LEASE) -> bool:
    """Extend the lease of a job ``worker`` holds; False when it no longer holds it."""
    with session.begin():
        done = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.status == "running")
            .values(lease_until=clock.now() + lease)
        )
    return bool(getattr(done, "rowcount", 0))


def finish(session: Session, job_id: int) -> None:
    """Mark the job done (in the caller's transaction, with what it produced)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="done", finished_at=clock.now(), lease_until=None, last_error=None)
    )


def retry_later(session: Session, job: Claimed, error: str) -> datetime:
    """Queue the job again after a delay that grows with its tries; return when it runs."""
    delay = min(MOST_DELAY, timedelta(seconds=5 * 2 ** min(job.tries - 1, 10)))
    when = clock.now() + delay
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(status="queued", worker=None, lease_until=None, run_after=when, last_error=error)
    )
    return when


def pending(session: Session) -> int:
    """Count the jobs not yet done (queued or running)."""
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count(Job.id)).where(or_(Job.status == "queued", Job.status == "running"))
        )
        or 0
    )
