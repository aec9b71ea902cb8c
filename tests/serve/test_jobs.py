"""The durable queue: one claimer per job, leases that return a killed worker's job, retries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.serve import clock, jobs
from grader.serve.models import Job, Result, Student, Submission

START = datetime(2026, 3, 1, 9, 0, 0)


class FakeClock:
    def __init__(self) -> None:
        self.time = clock.now()  # jobs made before the test are due

    def __call__(self) -> datetime:
        return self.time


def _queued(student_id: int, key: str) -> Submission:
    return Submission(
        student_id=student_id,
        exercise="01_leaf_tensors",
        filename="exercise.py",
        content=b"x = 1\n",
        digest="d",
        idempotency_key=key,
        status="queued",
        created_at=START,
    )


def _submission(engine: Engine, count: int = 1) -> list[int]:
    with Session(engine) as session, session.begin():
        student = Student(name="alice", roster={}, created_at=START)
        session.add(student)
        session.flush()
        ids = []
        for number in range(count):
            submission = _queued(student.id, f"k{number}")
            session.add(submission)
            session.flush()
            jobs.enqueue(session, "grade", submission.id)
            ids.append(submission.id)
    return ids


def test_each_job_is_claimed_by_one_worker_only(engine: Engine) -> None:
    _submission(engine, 12)
    taken: list[int] = []
    lock = threading.Lock()

    def take(name: str) -> None:
        while True:
            with Session(engine) as session:
                claimed = jobs.claim(session, name)
            if claimed is None:
                return
            with lock:
                taken.append(claimed.id)

    threads = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(set(taken))
    assert len(taken) == 12


def test_a_killed_workers_job_is_queued_again_when_its_lease_runs_out(engine: Engine) -> None:
    _submission(engine)
    fake = FakeClock()
    with clock.using(fake):
        with Session(engine) as session:
            first = jobs.claim(session, "killed")
        assert first is not None
        with Session(engine) as session:
            assert jobs.claim(session, "other") is None  # still leased
        fake.time += jobs.LEASE / 2
        with Session(engine) as session:
            assert jobs.heartbeat(session, first.id, "killed")  # alive: lease extended
        fake.time += jobs.LEASE * 0.9
        with Session(engine) as session:
            assert jobs.claim(session, "other") is None
        fake.time += jobs.LEASE  # no heartbeat any more: the worker is gone
        with Session(engine) as session:
            again = jobs.claim(session, "other")
        assert again is not None and again.id == first.id and again.tries == 2
        with Session(engine) as session:
            assert not jobs.heartbeat(session, first.id, "killed")  # it lost the job


def test_a_failed_job_waits_longer_each_try(engine: Engine) -> None:
    _submission(engine)
    fake = FakeClock()
    with clock.using(fake):
        waits = []
        for _ in range(3):
            with Session(engine) as session:
                claimed = jobs.claim(session, "w")
            assert claimed is not None
            with Session(engine) as session, session.begin():
                waits.append(jobs.retry_later(session, claimed, "zygote died") - fake.time)
            with Session(engine) as session:
                assert jobs.claim(session, "w") is None  # not yet due
            fake.time += waits[-1]
        assert waits[0] < waits[1] < waits[2]
        with Session(engine) as session:
            job = session.scalars(select(Job)).one()
            assert job.last_error == "zygote died" and job.status == "queued"


def test_a_submission_gets_one_result_per_version_of_the_checks(engine: Engine) -> None:
    (submission_id,) = _submission(engine)

    def result() -> Result:
        return Result(
            submission_id=submission_id,
            checks_digest="c1",
            seed=1,
            status="graded",
            score=1.0,
            max_score=1.0,
            document="{}",
            graded_at=START,
        )

    with Session(engine) as session, session.begin():
        session.add(result())
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        session.add(result())
    with Session(engine) as session:
        assert session.scalar(select(func.count(Result.id))) == 1


def test_the_clock_is_the_one_in_use() -> None:
    fake = FakeClock()
    fake.time = START
    with clock.using(fake):
        assert clock.now() == START
    assert clock.now() != START
    assert abs(clock.now() - datetime.utcnow()) < timedelta(minutes=1)  # noqa: DTZ003


def _insert_queued(session: Session, student_id: int, key: str) -> int:
    """Insert a queued submission with a Core statement, as a shared write's work does."""
    row = {c.key: getattr(_queued(student_id, key), c.key) for c in Submission.__table__.c}
    del row["id"]
    statement = insert(Submission).returning(Submission.id)
    return int(session.connection().execute(statement, row).scalar_one())


def _commits(engine: Engine) -> list[int]:
    """A list that grows by one at each commit on ``engine``."""
    from sqlalchemy import event

    commits: list[int] = []
    event.listen(engine, "commit", lambda connection: commits.append(1))
    return commits


def _student(engine: Engine, name: str) -> int:
    with Session(engine) as session, session.begin():
        student = Student(name=name, roster={}, created_at=START)
        session.add(student)
        session.flush()
        return student.id


def test_writes_that_arrive_together_share_a_commit_and_keep_their_own_errors(
    engine: Engine,
) -> None:
    from grader.serve.database import written_together

    commits = _commits(engine)
    student_id = _student(engine, "bob")
    ready = threading.Barrier(24)
    outcomes: dict[int, object] = {}

    def hand_in(number: int) -> None:
        def record(session: Session) -> int:
            # Two callers send one key: the second's savepoint fails, and only its.
            return _insert_queued(session, student_id, f"k{min(number, 22)}")

        ready.wait()
        try:
            outcomes[number] = written_together(engine, record)
        except IntegrityError as exc:
            outcomes[number] = exc

    threads = [threading.Thread(target=hand_in, args=(n,)) for n in range(24)]
    commits.clear()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failed = [n for n, got in outcomes.items() if isinstance(got, IntegrityError)]
    assert len(outcomes) == 24 and len(failed) == 1 and failed[0] in (22, 23), outcomes
    with Session(engine) as session:
        mine = select(Submission.id).where(Submission.student_id == student_id)
        kept = set(session.scalars(mine))
    assert kept == {got for got in outcomes.values() if isinstance(got, int)}
    assert len(kept) == 23
    if engine.dialect.name == "sqlite":
        assert len(commits) < 24, len(commits)  # some shared one


def test_writes_handed_in_from_the_event_loop_share_a_commit_and_keep_their_own_errors(
    engine: Engine,
) -> None:
    import asyncio

    from grader.serve.database import written_soon

    commits = _commits(engine)
    student_id = _student(engine, "ann")
    fake = FakeClock()
    fake.time = START + timedelta(days=3)

    def record(number: int) -> Callable[[Session], tuple[int, datetime]]:
        def work(session: Session) -> tuple[int, datetime]:
            # Two callers send one key: the second's savepoint fails, and only its.
            if number == 24:  # through the session: refused on SQLite (a shared transaction)
                through = _queued(student_id, "orm")
                session.add(through)
                session.flush()
                return through.id, clock.now()
            submission_id = _insert_queued(session, student_id, f"k{min(number, 22)}")
            return submission_id, clock.now()  # the caller's clock, on the writing thread

        return work

    async def hand_in_all() -> list[object]:
        calls = [written_soon(engine, record(n)) for n in range(25)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    commits.clear()
    with clock.using(fake):
        outcomes = asyncio.run(asyncio.wait_for(hand_in_all(), timeout=60))
    failed = [n for n, got in enumerate(outcomes) if isinstance(got, IntegrityError)]
    assert len(failed) == 1 and failed[0] in (22, 23), outcomes  # one of the two that sent k22
    if engine.dialect.name == "sqlite":
        assert isinstance(outcomes.pop(24), TypeError)
    taken = [got for got in outcomes if isinstance(got, tuple)]
    assert {when for _, when in taken} == {fake.time}
    with Session(engine) as session:
        mine = select(Submission.id).where(Submission.student_id == student_id)
        assert set(session.scalars(mine)) == {submission_id for submission_id, _ in taken}
    if engine.dialect.name == "sqlite":
        assert len(commits) < 24, len(commits)  # some shared one
