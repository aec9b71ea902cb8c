"""Twenty hand-ins sent at once with one attempt left: exactly one is graded, on SQLite and
PostgreSQL, and the nineteen others are kept as refused, each saying why."""

from __future__ import annotations

import threading

from serving import STUB, People, csrf_token
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from grader.course.find import Course
from grader.course.rules import rules_from_toml
from grader.serve.app import Config, create_app
from grader.serve.handin import accept
from grader.serve.models import Job, Submission

AT_ONCE = 20


def test_twenty_hand_ins_at_once_with_one_attempt_left_grade_exactly_one(
    engine: Engine, course: Course, people: People
) -> None:
    rules = rules_from_toml(course, "[rules.01]\nattempts = 3\n")
    for key in ("first", "second"):  # two of the three attempts already taken
        accept(engine, course, people.a_id, "01", "exercise.py", STUB, key, rules=rules)
    app = create_app(Config(course=course, engine=engine, rules=rules))
    clients = []
    for _ in range(AT_ONCE):
        web = TestClient(app, follow_redirects=False)
        assert web.get(f"/signin/{people.a_link}").status_code == 303
        clients.append((web, csrf_token(web.get("/").text)))
    start = threading.Barrier(AT_ONCE)
    statuses: list[int] = []
    lock = threading.Lock()

    def send(web: TestClient, token: str, n: int) -> None:
        start.wait(timeout=60)
        reply = web.post(
            "/submit",
            data={"exercise": "01", "csrf_token": token, "idempotency_key": f"at-once-{n}"},
            files={"file": ("exercise.py", STUB)},
        )
        with lock:
            statuses.append(reply.status_code)

    threads = [
        threading.Thread(target=send, args=(web, token, n), daemon=True)
        for n, (web, token) in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a hand-in hung"
    assert sorted(statuses) == [303] + [429] * (AT_ONCE - 1)
    with Session(engine) as session:
        kinds = dict(
            session.execute(
                select(Submission.status, func.count(Submission.id)).group_by(Submission.status)
            ).all()
        )
        assert kinds == {"queued": 3, "refused": AT_ONCE - 1}
        assert session.scalar(select(func.count(Job.id))) == 3
        reasons = set(
            session.scalars(select(Submission.refusal).where(Submission.refusal.is_not(None)))
        )
        assert reasons == {"you have used all 3 attempts of 01_leaf_tensors: no attempt is left"}
