"""A worker grades a job as the batch does, once; a broken environment delays, never zeroes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serving import People
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from grader.course.find import Course
from grader.engine.exercise import EnvironmentBroken, Settings, secrets_of
from grader.judge.checks import JudgeError
from grader.serve import jobs
from grader.serve.database import ServeError
from grader.serve.handin import accept
from grader.serve.models import Job, Result, Submission
from grader.serve.worker import Worker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions" / "01_leaf_tensors"


class _NoExecutor:
    def close(self) -> None:
        pass


def _worker(engine: Engine, course: Course) -> Worker:
    settings = Settings(seed=1, require_sandbox=False)
    return Worker(engine, course, settings, secrets_of(course), "test-worker")


def _hand_in(engine: Engine, course: Course, people: People, fixture: str) -> int:
    raw = (FIXTURES / fixture).read_bytes()
    return accept(engine, course, people.a_id, "01", fixture, raw, None).id


def test_a_broken_environment_leaves_the_submission_delayed_and_unscored(
    engine: Engine, course: Course, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    submission_id = _hand_in(engine, course, people, "passes_all.py")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise EnvironmentBroken("the grading environment failed before exercise.py could run")

    monkeypatch.setattr("grader.engine.parcel.grade_parcel", broken)
    worker = _worker(engine, course)
    worker.executor = _NoExecutor()  # type: ignore[assignment]
    assert worker.run_once()
    with Session(engine) as session:
        assert session.scalar(select(func.count(Result.id))) == 0
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.status == "delayed"
        job = session.scalars(select(Job)).one()
        assert job.status == "queued" and "grading environment failed" in (job.last_error or "")
    assert worker.executor is None  # a fresh zygote for the next try


def test_a_worker_refuses_where_the_sandbox_falls_short(
    engine: Engine, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short(*args: Any, **kwargs: Any) -> Any:
        raise JudgeError("refusing to run submissions: here a submission could use the network")

    monkeypatch.setattr("grader.run.gate.refuse_half_confined", short)
    with pytest.raises(ServeError, match="refusing to run submissions"):
        _worker(engine, course).start()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_grades_each_submission_once_as_grade_batch_does(
    engine: Engine, course: Course, people: People
) -> None:
    from grader.engine.parcel import Parcel, grade_parcel
    from grader.run.executors.warm_fork import warm_executor
    from grader.submission.source import SourceFile

    right = _hand_in(engine, course, people, "passes_all.py")
    wrong = _hand_in(engine, course, people, "forgot_requires_grad.py")
    worker = _worker(engine, course)
    worker.start()
    try:
        assert worker.run_once() and worker.run_once()
        assert not worker.run_once()
    finally:
        worker.close()
    with Session(engine) as session:
        results = {r.submission_id: r for r in session.scalars(select(Result))}
        assert sorted(results) == [right, wrong]
        assert results[right].score == results[right].max_score > 0
        assert results[wrong].score < results[wrong].max_score
        assert all(j.status == "done" for j in session.scalars(select(Job)))
    # The same record a batch worker makes from the same bytes and seed.
    executor = warm_executor(secrets_of(course))
    try:
        raw = (FIXTURES / "forgot_requires_grad.py").read_bytes()
        parcel = Parcel("alice", (("01_leaf_tensors", SourceFile("forgot_requires_grad.py", raw)),))
        _, batch = grade_parcel(parcel, course, Settings(seed=1), executor)
    finally:
        executor.close()
    served = json.loads(results[wrong].document)
    expected = batch["01_leaf_tensors"]
    for key in ("score", "max_score", "status"):
        assert served[key] == expected[key]
    assert [c["hint"] for c in served["checks"]] == [c["hint"] for c in expected["checks"]]
    # A regrade job for checks it was already graded with adds nothing.
    with Session(engine) as session, session.begin():
        jobs.enqueue(session, "grade", wrong)
    worker = _worker(engine, course)
    worker.executor = _NoExecutor()  # type: ignore[assignment]
    assert worker.run_once()
    with Session(engine) as session:
        assert session.scalar(select(func.count(Result.id))) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_class_exports_are_those_grade_batch_writes_for_the_same_files_and_seed(
    engine: Engine, course: Course, people: People, tmp_path: Path
) -> None:
    import subprocess

    from serving import GRADE

    from grader.serve.standing import ClassViews

    handed = {"alice": "passes_all.py", "bob": "forgot_requires_grad.py"}
    ids = {"alice": people.a_id, "bob": people.b_id}
    klass = tmp_path / "class"
    for name, fixture in handed.items():
        raw = (FIXTURES / fixture).read_bytes()
        accept(engine, course, ids[name], "01", "exercise.py", raw, None)
        folder = klass / name / "01_leaf_tensors"
        folder.mkdir(parents=True)
        (folder / "exercise.py").write_bytes(raw)
    worker = _worker(engine, course)
    worker.start()
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()
    assert GRADE is not None
    out = tmp_path / "graded"
    done = subprocess.run(
        [GRADE, "batch", str(klass), "--out", str(out), "--seed", "1", "--jobs", "1"],
        cwd=course.root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with Session(engine) as session:
        view = ClassViews(course, seed=1, lang="en", trust=False, policy="best").current(session)
    for name in ("grades.csv", "mistakes.csv", "similarity.csv"):
        assert view.files[name] == (out / name).read_bytes(), name
    batch = json.loads((out / "results.json").read_text(encoding="utf-8"))
    served = json.loads(view.files["results.json"])
    assert served["score_policy"] == "best"
    # `intake` says how grade batch found each file in a download: a batch's own field.
    assert set(served) - {"score_policy"} == set(batch) - {"intake"}
    for mine, theirs in zip(served["students"], batch["students"], strict=True):
        assert (mine["student"], mine["score"], mine["max_score"]) == (
            theirs["student"],
            theirs["score"],
            theirs["max_score"],
        )
        for a, b in zip(mine["exercises"], theirs["exercises"], strict=True):
            assert set(a) == set(b)
            assert [c["hint"] for c in a["checks"]] == [c["hint"] for c in b["checks"]]
