"""The course's rules on the server, under a fake clock: opening, deadlines, late penalties,
extensions, late days, attempt limits, cool-off, release, overrides and check comments.

Every time is set by the test (``clock.using``): nothing sleeps. Each refusal is
kept as a submission and says why; each final score is checked to the digit.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from serving import COURSE, People, csrf_token, hand_in, record_result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from grader.cli import cli
from grader.course.find import Course
from grader.course.rules import rules_from_toml
from grader.serve import clock
from grader.serve.app import Config, create_app
from grader.serve.client import held_back
from grader.serve.decisions import extend
from grader.serve.models import AuditEntry, Extension, Submission

START = datetime(2026, 11, 1, 8, 0)  # naive UTC, as the server keeps time
DEADLINE = datetime(2026, 11, 8, 22, 0)
CHECK = "test_make_leaf_requires_grad"
CHECK_TITLE = "make_leaf gives a tensor that requires grad"
HINT_ID = "make_leaf_no_requires_grad"
HINT_WORDS = "does not require grad, so autograd will not track it"
CHECKS = [
    {
        "name": CHECK,
        "title": CHECK_TITLE,
        "passed": False,
        "score": 0.0,
        "max_score": 2.0,
        "hint": {"id": HINT_ID, "params": {}},
    }
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the rules are the same on both (the concurrent test runs both)."""
    return f"sqlite:///{tmp_path / 'grade.db'}"


class FakeClock:
    """The server's one clock, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def fake() -> Iterator[FakeClock]:
    now = FakeClock(START)
    with clock.using(now):
        yield now


Make = Callable[..., Callable[[str], TestClient]]


@pytest.fixture
def serve(engine: Engine, course: Course, people: People) -> Make:
    """Return a factory: the course's rules (course.toml text) -> a client per role."""

    def make(rules: str = "", policy: str = "best") -> Callable[[str], TestClient]:
        config = Config(
            course=course, engine=engine, policy=policy, rules=rules_from_toml(course, rules)
        )
        app = create_app(config)

        def client(role: str) -> TestClient:
            web = TestClient(app, follow_redirects=False)
            if role == "a":
                assert web.get(f"/signin/{people.a_link}").status_code == 303
            elif role == "instructor":
                token = csrf_token(web.get("/").text)
                reply = web.post(
                    "/login",
                    data={"name": "prof", "password": "a-long-password", "csrf_token": token},
                )
                assert reply.status_code == 303, reply.text
            return web

        return client

    return make


def _id(reply: object) -> int:
    location = reply.headers["location"]  # type: ignore[attr-defined]
    return int(location.rsplit("/", 1)[-1])


def _scores(web: TestClient) -> dict[str, dict[str, str]]:
    reply = web.get("/class/download/scores.csv")
    assert reply.status_code == 200, reply.text
    return {row["exercise"]: row for row in csv.DictReader(io.StringIO(reply.text))}


def _graded_at(
    serve_a: TestClient, engine: Engine, course: Course, fake: FakeClock, at: datetime, score: float
) -> int:
    fake.at = at
    reply = hand_in(serve_a)
    assert reply.status_code == 303, reply.text
    submission_id = _id(reply)
    record_result(engine, submission_id, course, score=score, checks=CHECKS)
    return submission_id


def _kept(engine: Engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        found = session.scalars(select(Submission).order_by(Submission.id))
        return [(s.status, s.refusal) for s in found]


PENALTY = f"""
[rules]
late = "penalty"
penalty = 0.1
[rules.01]
deadline = {DEADLINE:%Y-%m-%dT%H:%M:%S}
"""


def test_before_the_opening_a_hand_in_is_refused_with_the_opening_time_and_kept(
    serve: Make, engine: Engine, fake: FakeClock
) -> None:
    client = serve('[rules]\ntimezone = "Europe/Berlin"\n[rules.01]\nopens = 2026-11-02T09:00:00\n')
    a = client("a")
    reply = hand_in(a)
    assert reply.status_code == 403
    assert "opens at 2026-11-02 09:00 Europe/Berlin" in reply.text
    [(status, why)] = _kept(engine)
    assert status == "refused" and "opens at 2026-11-02 09:00 Europe/Berlin" in str(why)
    listed = a.get("/api/submissions").json()["submissions"]
    assert listed[0]["status"] == "refused" and "opens at" in listed[0]["refusal"]
    fake.at = datetime(2026, 11, 2, 8, 0)  # 09:00 in Berlin
    assert hand_in(a).status_code == 303


def test_on_time_the_raw_score_is_the_final_score(
    serve: Make, engine: Engine, course: Course, fake: FakeClock
) -> None:
    client = serve(PENALTY)
    _graded_at(client("a"), engine, course, fake, DEADLINE - timedelta(minutes=1), 8.0)
    row = _scores(client("instructor"))["01_leaf_tensors"]
    assert (row["raw_score"], row["penalty"], row["override"], row["final_score"]) == (
        "8",
        "0",
        "",
        "8",
    )


@pytest.mark.parametrize(
    ("rules", "late_by", "final", "penalty"),
    [
        ("", timedelta(minutes=1), "7.2", "0.8"),  # one day started: 10%
        ("", timedelta(days=1, hours=1), "6.4", "1.6"),  # two days started: 20%
        ('penalty_per = "hour"\npenalty = 0.05\n', timedelta(hours=2, minutes=30), "6.8", "1.2"),
        ("penalty_cap = 0.3\n", timedelta(days=6), "5.6", "2.4"),  # 60% capped at 30%
    ],
)
def test_a_late_hand_in_loses_its_share_per_period_started(
    serve: Make,
    engine: Engine,
    course: Course,
    fake: FakeClock,
    rules: str,
    late_by: timedelta,
    final: str,
    penalty: str,
) -> None:
    client = serve(PENALTY + rules)
    _graded_at(client("a"), engine, course, fake, DEADLINE + late_by, 8.0)
    row = _scores(client("instructor"))["01_leaf_tensors"]
    assert (row["raw_score"], row["penalty"], row["final_score"]) == ("8", penalty, final)
    results = client("instructor").get("/class/download/results.json").json()
    alice = next(s for s in results["students"] if s["student"] == "alice")
    assert alice["exercises"][0]["score"] == float(final)  # every export counts the final


def test_after_the_cut_off_and_under_refuse_nothing_late_is_taken(
    serve: Make, engine: Engine, fake: FakeClock
) -> None:
    a = serve(PENALTY + "cutoff_days = 2\n")("a")
    fake.at = DEADLINE + timedelta(days=2)
    assert hand_in(a).status_code == 303  # the last moment of the cut-off
    fake.at = DEADLINE + timedelta(days=2, minutes=1)
    reply = hand_in(a)
    assert reply.status_code == 403
    assert "late hand-ins of 01_leaf_tensors closed at 2026-11-10 22:00 UTC" in reply.text
    refuse = serve(f"[rules.01]\ndeadline = {DEADLINE:%Y-%m-%dT%H:%M:%S}\n")("a")
    reply = hand_in(refuse)
    assert reply.status_code == 403
    assert "the deadline of 01_leaf_tensors was 2026-11-08 22:00 UTC" in reply.text
    assert [status for status, _ in _kept(engine)] == ["queued", "refused", "refused"]


def test_an_extension_lets_one_student_hand_in_after_the_deadline_without_penalty(
    serve: Make, engine: Engine, course: Course, people: People, fake: FakeClock
) -> None:
    client = serve(PENALTY)
    rules = rules_from_toml(course, PENALTY)
    with Session(engine) as session:
        extend(
            session, course, rules, people.a_id, "01", DEADLINE + timedelta(days=3), "prof", "ill"
        )
    _graded_at(client("a"), engine, course, fake, DEADLINE + timedelta(days=2), 8.0)
    row = _scores(client("instructor"))["01_leaf_tensors"]
    assert (row["penalty"], row["final_score"]) == ("0", "8")
    home = client("a").get("/").text
    assert "2026-11-11 22:00 UTC (extended for you)" in home


def test_the_extend_command_records_who_gave_the_extension_and_why(
    engine: Engine, people: People
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    done = CliRunner().invoke(
        cli,
        [
            "serve",
            "extend",
            "alice",
            "03",
            "--until",
            "2026-11-15T23:59",
            "--reason",
            "a doctor's note",
            "--by",
            "prof",
            "--db",
            url,
            "--course",
            str(COURSE),
        ],
    )
    assert done.exit_code == 0, done.output
    assert "alice may hand in 03_multi_input_grads until 2026-11-15 23:59 UTC" in done.output
    with Session(engine) as session:
        granted = session.scalars(select(Extension)).one()
        assert (granted.granted_by, granted.reason) == ("prof", "a doctor's note")
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.what, entry.who, entry.new, entry.why) == (
            "extension",
            "prof",
            "2026-11-15 23:59 UTC",
            "a doctor's note",
        )
    bad = CliRunner().invoke(
        cli,
        ["serve", "extend", "alice", "03", "--until", "soon", "--reason", "x", "--db", url]
        + ["--course", str(COURSE)],
    )
    assert bad.exit_code == 2
    assert "--until: 'soon' is not a date and time" in bad.output


def test_late_days_are_spent_across_exercises_until_none_is_left(
    serve: Make, engine: Engine, fake: FakeClock
) -> None:
    a = serve(
        f"""
[rules]
late = "late-days"
late_days = 3
deadline = {DEADLINE:%Y-%m-%dT%H:%M:%S}
"""
    )("a")
    fake.at = DEADLINE + timedelta(days=1, hours=23)  # two days started
    assert hand_in(a, exercise="01").status_code == 303
    fake.at = DEADLINE + timedelta(days=1, hours=1)  # two more: one is left
    reply = hand_in(a, exercise="02")
    assert reply.status_code == 403
    assert "needs 2 late day(s) and you have 1 of 3 left" in reply.text
    fake.at = DEADLINE + timedelta(hours=5)  # one day: the last
    assert hand_in(a, exercise="02").status_code == 303
    # Handing 01 in again as late as before spends nothing more.
    fake.at = DEADLINE + timedelta(days=1, hours=20)
    assert hand_in(a, exercise="01").status_code == 303
    assert "late days: 3 of 3 spent" in a.get("/").text


def test_the_attempt_limit_refuses_the_next_attempt_and_keeps_it(
    serve: Make, engine: Engine, fake: FakeClock
) -> None:
    a = serve("[rules.01]\nattempts = 2\n")("a")
    assert hand_in(a).status_code == 303
    assert hand_in(a).status_code == 303
    assert "2 of 2" in a.get("/").text  # shown before the next try
    listed = {e["name"]: e for e in a.get("/api/exercises").json()["exercises"]}
    assert listed["01_leaf_tensors"]["attempts"] == 2
    assert listed["02_vector_grad_mean"]["attempts"] is None
    reply = hand_in(a)
    assert reply.status_code == 429
    assert "you have used all 2 attempts of 01_leaf_tensors" in reply.text
    assert [status for status, _ in _kept(engine)] == ["queued", "queued", "refused"]
    again = hand_in(a, key="lost-reply")
    assert hand_in(a, key="lost-reply").text == again.text  # a retry: the same refusal
    assert len(_kept(engine)) == 4
    assert hand_in(a, exercise="02").status_code == 303  # another exercise has its own


def test_the_cool_off_says_when_the_next_attempt_is_possible(
    serve: Make, engine: Engine, fake: FakeClock
) -> None:
    a = serve("[rules]\ncooloff_minutes = 5\n")("a")
    assert hand_in(a).status_code == 303
    fake.at = START + timedelta(minutes=1, seconds=30)
    reply = hand_in(a)
    assert reply.status_code == 429
    assert "the next is possible at 2026-11-01 08:05 UTC" in reply.text
    assert "next at 2026-11-01 08:05 UTC" in a.get("/").text
    fake.at = START + timedelta(minutes=5)
    assert hand_in(a).status_code == 303  # a refused attempt does not restart the wait


RELEASE = datetime(2026, 11, 10, 12, 0)


def _student_outputs(a: TestClient, submission_id: int) -> str:
    """Everything a student can read of one attempt: pages, API replies, the report."""
    pages = [
        a.get("/").text,
        a.get(f"/submissions/{submission_id}").text,
        a.get(f"/submissions/{submission_id}/report").text,
        a.get("/api/submissions").text,
        a.get(f"/api/submissions/{submission_id}").text,
    ]
    return "\n".join(pages)


@pytest.mark.parametrize(
    ("shown", "score", "hints"),
    [("received", False, False), ("score", True, False), ("hints", False, True)],
)
def test_before_the_release_nothing_shows_more_than_the_policy(
    serve: Make,
    engine: Engine,
    course: Course,
    fake: FakeClock,
    shown: str,
    score: bool,
    hints: bool,
) -> None:
    client = serve(
        f'[rules.01]\nrelease = {RELEASE:%Y-%m-%dT%H:%M:%S}\nbefore_release = "{shown}"\n'
    )
    a = client("a")
    submission_id = _graded_at(a, engine, course, fake, START, 6.5)
    seen = _student_outputs(a, submission_id)
    assert CHECK not in seen and CHECK_TITLE not in seen
    assert (HINT_WORDS in seen) is hints
    assert ("6.5" in seen) is score
    assert a.get(f"/submissions/{submission_id}/report").status_code == 403
    reply = a.get(f"/api/submissions/{submission_id}").json()
    assert reply["shown"] == shown and "results" not in reply
    assert "2026-11-10 12:00 UTC" in reply["released"]
    printed = held_back("01_leaf_tensors", reply)  # what grade submit prints of it
    assert CHECK not in printed and ("6.5" in printed) is score
    assert (HINT_WORDS in printed) is hints
    # The instructor sees everything, before the release too.
    teacher = client("instructor")
    assert CHECK in teacher.get(f"/submissions/{submission_id}").text
    assert teacher.get(f"/submissions/{submission_id}/report").status_code == 200
    fake.at = RELEASE
    after = _student_outputs(a, submission_id)
    assert CHECK_TITLE in after and HINT_WORDS in after and "6.5" in after
    assert a.get(f"/api/submissions/{submission_id}").json()["shown"] == "full"


def test_an_override_with_its_comment_is_what_counts_and_its_history_is_kept(
    serve: Make, engine: Engine, course: Course, people: People, fake: FakeClock
) -> None:
    client = serve(PENALTY)
    a, teacher = client("a"), client("instructor")
    submission_id = _graded_at(a, engine, course, fake, DEADLINE + timedelta(hours=1), 8.0)
    page = teacher.get(f"/submissions/{submission_id}").text
    token = csrf_token(page)
    form = {"csrf_token": token, "exercise": "01", "submission": str(submission_id)}
    refused = teacher.post(
        f"/class/students/{people.a_id}/override", data={**form, "score": "9", "comment": " "}
    )
    assert refused.status_code == 422
    assert "an override needs a reason" in refused.text
    assert _scores(teacher)["01_leaf_tensors"]["final_score"] == "7.2"
    fake.at = DEADLINE + timedelta(days=1)
    done = teacher.post(
        f"/class/students/{people.a_id}/override",
        data={**form, "score": "9.5", "comment": "the late hand-in was our server's fault"},
    )
    assert done.status_code == 303, done.text
    row = _scores(teacher)["01_leaf_tensors"]
    assert (row["raw_score"], row["penalty"], row["override"], row["final_score"]) == (
        "8",
        "0.8",
        "9.5",
        "9.5",
    )
    home = a.get("/").text
    assert "9.5/10" in home and "the late hand-in was our server&#39;s fault" in home
    history = a.get(f"/submissions/{submission_id}").text
    assert "2026-11-09 22:00:00" in history and "prof" in history
    assert ">7.2<" in history and ">9.5<" in history
    with Session(engine) as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == 1


def test_a_comment_on_a_check_reaches_the_students_report(
    serve: Make, engine: Engine, course: Course, fake: FakeClock
) -> None:
    client = serve()
    a, teacher = client("a"), client("instructor")
    submission_id = _graded_at(a, engine, course, fake, START, 4.0)
    token = csrf_token(teacher.get(f"/submissions/{submission_id}").text)
    done = teacher.post(
        f"/submissions/{submission_id}/comment",
        data={"csrf_token": token, "check": CHECK, "comment": "see lecture 2, slide 14"},
    )
    assert done.status_code == 303, done.text
    report = a.get(f"/submissions/{submission_id}/report").text
    assert "<b>Your instructor:</b> see lecture 2, slide 14" in report
    assert "see lecture 2, slide 14" in a.get(f"/submissions/{submission_id}").text
    # A student may not comment, nor override.
    own = csrf_token(a.get(f"/submissions/{submission_id}").text)
    assert (
        a.post(
            f"/submissions/{submission_id}/comment",
            data={"csrf_token": own, "check": CHECK, "comment": "mine"},
        ).status_code
        == 403
    )


def test_a_mistake_in_the_rules_stops_grade_serve_with_one_line(tmp_path: Path) -> None:
    for folder in ("exercises/01_x", "checks/01_x"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "course.toml").write_text(
        'title = "t"\n[rules]\ntimezone = "Nowhere/City"\n', encoding="utf-8"
    )
    db = f"sqlite:///{tmp_path / 'grade.db'}"
    done = CliRunner().invoke(cli, ["serve", "--course", str(tmp_path), "--db", db, "--jobs", "0"])
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1
    assert "rules.timezone: unknown time zone 'Nowhere/City'" in lines[0]
    assert not (tmp_path / "grade.db").exists()  # stopped before anything was made


def test_a_regrade_request_is_answered_with_a_new_score_and_both_see_the_thread(
    serve: Make, engine: Engine, course: Course, fake: FakeClock
) -> None:
    client = serve()
    a, teacher = client("a"), client("instructor")
    submission_id = _graded_at(a, engine, course, fake, START, 4.0)
    token = csrf_token(a.get(f"/submissions/{submission_id}").text)
    asked = a.post(
        f"/submissions/{submission_id}/messages",
        data={"csrf_token": token, "text": "my make_leaf passes on my machine"},
    )
    assert asked.status_code == 303, asked.text
    waiting = teacher.get("/class/review").text
    assert "my make_leaf passes on my machine" in waiting and "alice" in waiting
    token = csrf_token(teacher.get(f"/submissions/{submission_id}").text)
    answered = teacher.post(
        f"/submissions/{submission_id}/messages",
        data={"csrf_token": token, "text": "right: the check was too strict", "score": "10"},
    )
    assert answered.status_code == 303, answered.text
    for web in (a, teacher):
        page = web.get(f"/submissions/{submission_id}").text
        assert "my make_leaf passes on my machine" in page
        assert "right: the check was too strict" in page
    assert "No request waits for an answer" in teacher.get("/class/review").text
    assert _scores(teacher)["01_leaf_tensors"]["final_score"] == "10"
    assert "10/10" in a.get("/").text


def test_anonymous_review_leaves_names_and_ids_off_the_review_pages(
    serve: Make, engine: Engine, course: Course, people: People, fake: FakeClock
) -> None:
    client = serve()
    a, teacher = client("a"), client("instructor")
    submission_id = _graded_at(a, engine, course, fake, START, 4.0)
    token = csrf_token(a.get(f"/submissions/{submission_id}").text)
    a.post(f"/submissions/{submission_id}/messages", data={"csrf_token": token, "text": "why?"})
    token = csrf_token(teacher.get("/class/review").text)
    switched = teacher.post(
        "/class/anonymous", data={"csrf_token": token, "anonymous": "on", "back": "/class/review"}
    )
    assert switched.status_code == 303
    teacher.cookies.set("grade_review", switched.cookies["grade_review"])
    for path in ("/class/review", f"/submissions/{submission_id}"):
        page = teacher.get(path).text
        assert "alice" not in page and "Alice" not in page, path
        assert f"/class/students/{people.a_id}" not in page, path
        assert re.search(r"student [0-9a-f]{8}", page), path
    token = csrf_token(teacher.get(f"/submissions/{submission_id}").text)
    done = teacher.post(
        f"/submissions/{submission_id}/override",
        data={"csrf_token": token, "exercise": "01", "score": "5", "comment": "partial credit"},
    )
    assert done.status_code == 303, done.text
    assert _scores(teacher)["01_leaf_tensors"]["final_score"] == "5"


def test_the_decision_forms_answer_each_role_as_its_permission_says(
    serve: Make, engine: Engine, course: Course, people: People, fake: FakeClock
) -> None:
    client = serve()
    a = client("a")
    submission_id = _graded_at(a, engine, course, fake, START, 4.0)
    forms = [
        f"/class/students/{people.a_id}/override",
        f"/class/students/{people.a_id}/extension",
        f"/submissions/{submission_id}/override",
        f"/submissions/{submission_id}/comment",
    ]
    for role, expected in (("anonymous", 401), ("a", 403)):
        web = client(role)
        token = csrf_token(web.get("/").text)
        for path in forms:
            reply = web.post(
                path,
                data={"csrf_token": token, "exercise": "01", "score": "10", "comment": "x"}
                | {"until": "2027-01-01T00:00", "reason": "x", "check": CHECK},
            )
            assert reply.status_code == expected, (role, path, reply.status_code)
    assert _scores(client("instructor"))["01_leaf_tensors"]["final_score"] == "4"
