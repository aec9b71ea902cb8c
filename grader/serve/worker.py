"""A grading worker: take a job from the database, grade it as ``grade batch`` does, record it.

Each worker is its own process (started by ``grade serve --jobs N``, or by
``grade serve worker`` on another machine) with its own warm zygote. It grades
a submission through ``grader.engine.parcel.grade_parcel``, the very function a batch
worker calls, behind the same sandbox gate. When the grading environment fails
(the child could not start, the zygote died) the submission is the server's
fault: it goes back in the queue, marked delayed, and is never scored.
A worker also runs the passback jobs that send final scores to a learning
platform (``grader.serve.passback``); a graded attempt records its passback
job in the transaction that records its result.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.course.find import Course, CourseError
from grader.run.executors import Executor, Limits
from grader.serve import clock, jobs, passback
from grader.serve.database import (
    DatabaseDown,
    ServeError,
    open_engine,
    pending_migrations,
    reading,
    setting,
    writing,
)
from grader.serve.models import Result, Student, Submission

__all__ = ["Worker", "run_worker"]

# A worker grades and sends grades back: both are jobs of the one table.
KINDS = ("grade", "passback")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Worker:
    """One process's course, settings, warm executor and database."""

    engine: Engine
    course: Course
    settings: Any
    hide: list[str]
    name: str
    executor: Executor | None = None
    lease: timedelta = jobs.LEASE
    services: Any = None  # the platforms' services client (LTI passback), made on first use

    def start(self) -> dict[str, Any]:
        """Start the warm executor and refuse now if the sandbox falls short here."""
        from grader.judge.checks import JudgeError
        from grader.run.executors.warm_fork import warm_executor
        from grader.run.gate import TRUST_SUBMISSIONS, refuse_half_confined

        self.executor = warm_executor(self.hide)
        try:
            return refuse_half_confined(self.executor, self.settings, way_out=TRUST_SUBMISSIONS)
        except JudgeError as exc:
            self.close()
            raise ServeError(str(exc)) from None

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None

    def run_once(self) -> bool:
        """Claim and run one job; return False when none was due."""
        with Session(self.engine) as session:
            claimed = jobs.claim(session, self.name, KINDS, lease=self.lease)
        if claimed is None:
            return False
        beating = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claimed.id, beating), daemon=True)
        beat.start()
        try:
            if claimed.kind == "passback":
                self._pass_back(claimed)
            else:
                self._grade(claimed)
        finally:
            beating.set()
            beat.join()
        return True

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.lease.total_seconds() / 4):
            try:
                with Session(self.engine) as session:
                    jobs.heartbeat(session, job_id, self.name, lease=self.lease)
            except DatabaseDown:
                pass  # tried again at the next beat; the lease covers a few misses

    def _pass_back(self, claimed: jobs.Claimed) -> None:
        from grader.serve import passback
        from grader.serve.lti_services import Services

        if self.services is None:
            self.services = Services()
        outcome = passback.run(self.engine, self.course, claimed, self.services)
        if outcome in ("retry", "failed"):
            _say(f"grade serve worker: passback job {claimed.id}: {outcome}")

    def _grade(self, claimed: jobs.Claimed) -> None:
        from grader.engine.parcel import Parcel, grade_parcel
        from grader.submission.source import SourceFile

        submission_id = claimed.submission_id or 0
        # Reads only, in a transaction that holds no lock: the web process takes
        # submissions in meanwhile.
        with Session(reading(self.engine)) as session:
            found = session.execute(
                select(Student.name, Submission.exercise, Submission.filename, Submission.content)
                .join(Student, Student.id == Submission.student_id)
                .where(Submission.id == submission_id)
            ).first()
        if found is None:  # deleted meanwhile: nothing to grade
            with writing(self.engine) as session:
                jobs.finish(session, claimed.id)
            return
        name, exercise_name = found.name, found.exercise
        file = SourceFile(found.filename, bytes(found.content))
        try:
            exercise = self.course.exercise(exercise_name)
            with Session(reading(self.engine)) as session:
                done = already_graded(session, submission_id, exercise.checks_digest)
            if done:
                # A regrade asked for the checks it was graded with: nothing to do.
                with writing(self.engine) as session:
                    jobs.finish(session, claimed.id)
                return
            if self.executor is None:
                self.start()
            assert self.executor is not None
            parcel = Parcel(name, ((exercise.name, file),))
            _, graded = grade_parcel(parcel, self.course, self.settings, self.executor)
            result = graded[exercise.name]
        except Exception as exc:
            # The environment's fault (EnvironmentBroken, a zygote gone, a course being
            # edited), never the student's: delayed and retried, never a zero.
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._delay(claimed, submission_id, reason)
            self.close()  # a fresh zygote for the next try
            return
        self._record(claimed, submission_id, result)

    def _delay(self, claimed: jobs.Claimed, submission_id: int, reason: str) -> None:
        with writing(self.engine) as session:
            when = jobs.retry_later(session, claimed, reason)
            session.execute(
                update(Submission).where(Submission.id == submission_id).values(status="delayed")
            )
        _say(
            f"grade serve worker: submission {submission_id} delayed "
            f"until {when:%H:%M:%S} UTC: {reason}"
        )

    def _record(self, claimed: jobs.Claimed, submission_id: int, result: dict[str, Any]) -> None:
        # Made before the transaction, which is three statements and nothing else.
        row = {
            "submission_id": submission_id,
            "checks_digest": result["checks_digest"],
            "seed": self.settings.seed,
            "status": result["status"],
            "score": float(result["score"]),
            "max_score": float(result["max_score"]),
            "document": json.dumps(result, allow_nan=True),
            "graded_at": clock.now(),
        }
        try:
            with writing(self.engine) as session:
                session.execute(insert(Result).values(**row))
                session.execute(
                    update(Submission).where(Submission.id == submission_id).values(status="graded")
                )
                jobs.finish(session, claimed.id)
                # The student's final score may have changed (a platform's gradebook is
                # told: a durable job in this same transaction, so a restart loses nothing).
                graded = session.get(Submission, submission_id)
                if graded is not None:
                    passback.enqueue(session, graded.student_id, graded.exercise)
        except IntegrityError:
            # Another worker took the job over (this one's lease ran out) and recorded
            # the same grade first: one result per submission and checks, never two.
            with writing(self.engine) as session:
                jobs.finish(session, claimed.id)
                session.execute(
                    update(Submission).where(Submission.id == submission_id).values(status="graded")
                )


def already_graded(session: Session, submission_id: int, checks_digest: str) -> bool:
    """Say whether this submission has a result with these checks."""
    return (
        session.scalar(
            select(Result.id).where(
                Result.submission_id == submission_id, Result.checks_digest == checks_digest
            )
        )
        is not None
    )


def run_worker(
    url: str,
    course_root: Path,
    *,
    limits: Limits,
    trust: bool,
    lease: timedelta = jobs.LEASE,
    poll: float = 0.25,
    ready: Callable[[], None] = lambda: None,
    stop: threading.Event | None = None,
) -> None:
    """Grade jobs from the database at ``url`` until stopped (SIGTERM, Ctrl-C, ``stop``)."""
    from grader.engine.exercise import Settings, secrets_of
    from grader.run.process import name_process

    engine = open_engine(url)
    if pending_migrations(engine):
        raise ServeError("the database is not up to date: run grade serve migrate first")
    with Session(engine) as session:
        seed = setting(session, "seed")
    if seed is None:
        raise ServeError("the database has no seed yet: run grade serve migrate first")
    try:
        course = Course.load(course_root)
    except CourseError as exc:
        raise ServeError(str(exc)) from None
    settings = Settings(seed=int(seed), limits=limits, require_sandbox=not trust)
    hide = secrets_of(course)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database:
        # The database holds every student's code and the sign-in secrets.
        hide.append(str(Path(database).resolve().parent))
    name_process("grade-worker")
    import faulthandler
    import signal

    # kill -USR1 on a worker that seems stuck prints where each of its threads is.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    worker = Worker(
        engine, course, settings, hide, f"{socket.gethostname()}:{os.getpid()}", lease=lease
    )
    worker.start()
    ready()
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            try:
                if not worker.run_once():
                    stop.wait(poll)
            except DatabaseDown as exc:
                _say(
                    f"grade serve worker: the database is unreachable ({exc.__class__.__name__}); "
                    "trying again"
                )
                time.sleep(2)
    finally:
        worker.close()
