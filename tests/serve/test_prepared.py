"""Statements compiled once and run on SQLite's cursor store and read what SQLAlchemy does."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.serve.models import Job, Student, Submission
from grader.serve.prepared import Prepared

WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456)


def _job(kind: str) -> dict[str, object]:
    return {
        "kind": kind,
        "submission_id": None,
        "payload": {"exercise": "03_no_grad", "note": "é <b>"},
        "status": "queued",
        "run_after": WHEN,
        "tries": 0,
        "created_at": WHEN,
    }


def _through_sqlalchemy(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_row_inserted_prepared_reads_back_as_one_inserted_through_sqlalchemy(
    engine: Engine,
) -> None:
    prepared = Prepared(insert(Job).returning(Job.id))
    seen = _through_sqlalchemy(engine)
    with Session(engine) as session, session.begin():
        ((fast,),) = prepared.rows(session, _job("fast"))
        # On SQLite straight to its cursor; elsewhere SQLAlchemy's own way.
        inserts = [s for s in seen if "INSERT" in s]
        assert len(inserts) == (0 if engine.dialect.name == "sqlite" else 1)
        usual = session.connection().execute(insert(Job).returning(Job.id), _job("usual"))
        slow = usual.scalar_one()
    with Session(engine) as session:
        both = {job.id: job for job in session.scalars(select(Job))}
        a, b = both[fast], both[slow]
        assert (a.payload, a.run_after, a.created_at, a.tries) == (
            b.payload,
            b.run_after,
            b.created_at,
            b.tries,
        )
        assert a.run_after == WHEN
        # And a date read through a prepared statement comes back a date.
        when = Prepared(select(Job.run_after, Job.kind).where(Job.id == fast))
        assert when.first(session, {}) == (WHEN, "fast")


def test_a_column_left_to_its_default_gets_it(engine: Engine) -> None:
    row = _job("defaults")
    del row["tries"], row["payload"]  # Python-side defaults: 0 and {}
    seen = _through_sqlalchemy(engine)
    with Session(engine) as session, session.begin():
        ((job_id,),) = Prepared(insert(Job).returning(Job.id)).rows(session, row)
    assert [s for s in seen if "INSERT" in s]  # SQLAlchemy's way, which fills the defaults
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and (job.tries, job.payload) == (0, {})


def test_a_key_taken_twice_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    prepared = Prepared(insert(Submission).returning(Submission.id))
    with Session(engine) as session, session.begin():
        student = Student(name="ann", roster={}, created_at=WHEN)
        session.add(student)
        session.flush()
        row = {
            "student_id": student.id,
            "exercise": "03_no_grad",
            "filename": "exercise.py",
            "content": b"x = 1\n",
            "digest": "d",
            "idempotency_key": "same",
            "status": "queued",
            "created_at": WHEN,
        }
        prepared.rows(session, row)
        with pytest.raises(IntegrityError) as caught, session.begin_nested():
            prepared.rows(session, row)
        # The file's bytes are not in the message (nor in a log that prints it).
        assert "x = 1" not in str(caught.value)
