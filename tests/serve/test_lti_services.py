"""Grade passback (AGS) and the roster (NRPS) against the loopback platform.

A graded attempt's final score arrives in the platform's gradebook under one
line item per exercise; a platform that answers 500 gets the score again
later, once, also when the server restarted in between; the roster comes
from the platform's memberships service, page by page.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from lti_platform import Setup, browser, launch
from serving import COURSE, People
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from grader.cli import cli
from grader.course.find import Course
from grader.engine.exercise import Settings, secrets_of
from grader.serve import clock, passback
from grader.serve.accounts import import_roster
from grader.serve.database import open_engine
from grader.serve.handin import accept
from grader.serve.models import Job, LtiLineItem, Setting, Student
from grader.serve.worker import Worker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "submissions" / "01_leaf_tensors"


class _NoExecutor:
    def close(self) -> None:
        pass


def _worker(engine: Engine, course: Course, warm: bool = False) -> Worker:
    settings = Settings(seed=1, require_sandbox=False)
    worker = Worker(engine, course, settings, secrets_of(course), "test-worker")
    if not warm:
        worker.executor = _NoExecutor()  # type: ignore[assignment]
    return worker


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _hand_in(web: httpx.Client, fixture: str) -> None:
    token = _token(web.get("/exercises/01_leaf_tensors").text)
    reply = web.post(
        "/submit",
        data={"exercise": "01_leaf_tensors", "csrf_token": token, "idempotency_key": fixture},
        files={"file": ("exercise.py", (FIXTURES / fixture).read_bytes(), "text/x-python")},
    )
    assert reply.status_code == 303, reply.text


def _launch_and_hand_in(setup: Setup, hint: str, fixture: str) -> None:
    """Open the exercise from the platform as ``hint`` and hand ``fixture`` in."""
    with browser(setup) as web:
        assert launch(setup, web, hint).status_code == 303
        _hand_in(web, fixture)


def _graded_as(monkeypatch: pytest.MonkeyPatch, course: Course, score: float) -> None:
    """Make the worker's grading give ``score`` (the environment is not what these test)."""
    exercise = course.exercise("01")

    def graded(parcel: Any, *args: Any, **kwargs: Any) -> Any:
        result: dict[str, Any] = {
            "exercise": exercise.name,
            "status": "passed" if score else "failed",
            "score": score,
            "max_score": 4.0,
            "checks_digest": exercise.checks_digest,
            "checks": [],
        }
        return None, {exercise.name: result}

    monkeypatch.setattr("grader.engine.parcel.grade_parcel", graded)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_final_score_reaches_the_platform_under_one_line_item_per_exercise(
    setup: Setup, course: Course
) -> None:
    with Session(setup.engine) as session, session.begin():
        session.add(Setting(key="score_policy", value="last"))
    worker = _worker(setup.engine, course, warm=True)
    worker.start()
    try:
        with browser(setup) as web:
            assert launch(setup, web, "hint-carol").status_code == 303
            _hand_in(web, "passes_all.py")
            assert worker.run_once()  # graded
            assert worker.run_once()  # passed back
            _hand_in(web, "forgot_requires_grad.py")
            assert worker.run_once() and worker.run_once()
            assert not worker.run_once()
    finally:
        worker.close()
    platform = setup.platform
    assert [i["resourceId"] for i in platform.line_items] == ["01_leaf_tensors"]
    assert platform.line_items[0]["scoreMaximum"] > 0
    (full, partial) = platform.scored()
    assert full[:2] == ("01_leaf_tensors", "sub-carol") and full[2] == full[3] > 0
    assert partial[:2] == ("01_leaf_tensors", "sub-carol") and 0 <= partial[2] < partial[3]
    assert platform.scores[-1]["gradingProgress"] == "FullyGraded"
    assert platform.scores[-1]["timestamp"] >= platform.scores[0]["timestamp"]
    with Session(setup.engine) as session:
        assert session.scalar(select(func.count(LtiLineItem.id))) == 1
        assert all(j.status == "done" for j in session.scalars(select(Job)))


def test_a_line_item_deep_linking_made_is_reused_not_duplicated(
    setup: Setup, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    lineitems = f"{setup.platform.url}/courses/course-7/lineitems"
    setup.platform.line_items.append(
        {"id": f"{lineitems}/1", "resourceId": "01_leaf_tensors", "scoreMaximum": 4.0}
    )
    _graded_as(monkeypatch, course, 3.0)
    worker = _worker(setup.engine, course)
    _launch_and_hand_in(setup, "hint-dan", "passes_all.py")
    assert worker.run_once() and worker.run_once()
    assert len(setup.platform.line_items) == 1
    assert setup.platform.scored() == [("01_leaf_tensors", "sub-dan", 3.0, 4.0)]


def test_a_passback_the_platform_refuses_is_retried_and_arrives_once_after_a_restart(
    setup: Setup, course: Course, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graded_as(monkeypatch, course, 4.0)
    setup.platform.break_scores = 1
    _launch_and_hand_in(setup, "hint-dan", "passes_all.py")
    worker = _worker(setup.engine, course)
    assert worker.run_once()  # graded: the passback job is recorded with the result
    assert worker.run_once()  # the platform answers 500
    assert not worker.run_once()  # not due yet
    assert setup.platform.scores == [] and setup.platform.score_calls == 1
    with browser(setup) as prof:
        assert launch(setup, prof, "hint-prof").status_code == 303
        page = prof.get("/class/passback").text
        assert "retrying" in page and "the platform answered 500" in page
    # A restart: a new engine and worker (no token, no cache), with nothing but the database.
    restarted = open_engine(database_url)
    try:
        later = clock.now() + timedelta(hours=1)
        with clock.using(lambda: later):
            again = _worker(restarted, course)
            assert again.run_once()
            assert not again.run_once()
    finally:
        restarted.dispose()
    assert setup.platform.scored() == [("01_leaf_tensors", "sub-dan", 4.0, 4.0)]
    assert setup.platform.score_calls == 2
    with Session(setup.engine) as session:
        assert passback.troubled(session) == []


def test_a_passback_that_keeps_failing_is_listed_and_an_instructor_retries_it(
    setup: Setup, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graded_as(monkeypatch, course, 2.0)
    setup.platform.break_scores = 1
    _launch_and_hand_in(setup, "hint-dan", "passes_all.py")
    worker = _worker(setup.engine, course)
    assert worker.run_once()
    with Session(setup.engine) as session, session.begin():
        # The last try left: the next refusal marks it failed.
        session.execute(
            update(Job).where(Job.kind == "passback").values(tries=passback.MOST_TRIES - 1)
        )
    assert worker.run_once()
    assert not worker.run_once()  # failed: not retried by itself
    with browser(setup) as prof:
        assert launch(setup, prof, "hint-prof").status_code == 303
        page = prof.get("/class/passback").text
        assert "failed" in page and "the platform answered 500" in page and "dan" in page
        assert prof.post("/class/passback/retry", data={}).status_code == 403  # no CSRF token
        retried = prof.post("/class/passback/retry", data={"csrf_token": _token(page)})
        assert retried.status_code == 303
    with browser(setup) as student:
        assert launch(setup, student, "hint-carol").status_code == 303
        assert student.get("/class/passback").status_code == 403
    assert worker.run_once()
    assert setup.platform.scored() == [("01_leaf_tensors", "sub-dan", 2.0, 4.0)]


def test_a_student_who_never_came_from_a_platform_gets_no_passback(
    engine: Engine, course: Course, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graded_as(monkeypatch, course, 4.0)
    raw = (FIXTURES / "passes_all.py").read_bytes()
    accept(engine, course, people.a_id, "01", "passes_all.py", raw, None)
    worker = _worker(engine, course)
    assert worker.run_once()
    with Session(engine) as session:
        assert [j.kind for j in session.scalars(select(Job))] == ["grade"]


def test_the_roster_comes_from_the_platform_page_by_page_and_refreshes(
    setup: Setup, database_url: str, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,student,email\ncarol_j,Carol,carol@example.edu\n", encoding="utf-8")
    with Session(setup.engine) as session, session.begin():
        import_roster(session, roster, None, setup.tool)
    common = ["serve", "lti", "roster", "--db", database_url, "--course", str(COURSE)]
    none_yet = CliRunner().invoke(cli, common)
    assert none_yet.exit_code == 2 and "open one exercise from the course first" in none_yet.output
    with browser(setup) as prof:
        assert launch(setup, prof, "hint-prof").status_code == 303
    first = CliRunner().invoke(cli, common)
    assert first.exit_code == 0, first.output
    assert "1 new student(s), 1 already here" in first.output
    with Session(setup.engine) as session:
        students = {s.name: s.roster for s in session.scalars(select(Student))}
    assert set(students) == {"carol_j", "dan"}  # the instructor is no student
    assert students["dan"]["email"] == "dan@example.edu"
    assert students["carol_j"]["lti_user_id"] == "sub-carol"
    again = CliRunner().invoke(cli, common)
    assert "0 new student(s), 2 already here" in again.output
    with browser(setup) as web:  # carol's launch finds her imported folder
        assert launch(setup, web, "hint-carol").status_code == 303
        assert "carol_j" in web.get("/").text


def test_a_token_the_platform_revoked_is_replaced_at_the_next_try(
    setup: Setup, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    _graded_as(monkeypatch, course, 1.0)
    worker = _worker(setup.engine, course)
    _launch_and_hand_in(setup, "hint-dan", "passes_all.py")
    assert worker.run_once() and worker.run_once()
    asked = len(setup.platform.tokens)
    setup.platform.tokens.clear()  # revoked: the worker's kept token now gets 401
    _launch_and_hand_in(setup, "hint-dan", "forgot_requires_grad.py")
    assert worker.run_once() and worker.run_once()
    with Session(setup.engine) as session:
        job = session.scalars(select(Job).where(Job.status == "queued")).one()
        assert "401" in (job.last_error or "")
    later = clock.now() + timedelta(hours=1)
    with clock.using(lambda: later):
        assert worker.run_once()
    assert asked == 1 and len(setup.platform.tokens) == 1
    assert [s[2] for s in setup.platform.scored()] == [1.0, 1.0]


def test_an_instructors_override_reaches_the_platform_as_the_new_final_score(
    setup: Setup, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.course.rules import CourseRules
    from grader.serve.decisions import override

    _graded_as(monkeypatch, course, 4.0)
    _launch_and_hand_in(setup, "hint-dan", "passes_all.py")
    worker = _worker(setup.engine, course)
    assert worker.run_once() and worker.run_once()  # graded, then passed back
    with Session(setup.engine) as session, session.begin():
        dan = session.scalars(select(Student).order_by(Student.id.desc())).first()
        assert dan is not None
        override(session, course, CourseRules(), "best", dan.id, "01", 1.5, "prof", "copied")
    assert worker.run_once()  # the override's passback
    assert not worker.run_once()
    assert [s[2] for s in setup.platform.scored()] == [4.0, 1.5]
