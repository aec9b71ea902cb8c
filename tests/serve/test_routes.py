"""Every route, walked in-process as anonymous, student A, student B and the instructor.

A student reads and lists only their own submissions (guessed and incremented ids
included), instructor pages refuse students, forms without their CSRF token are
refused, wrong sign-in secrets are slowed down, hostile names show as text, and bad
input gets one clear line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from serving import HOSTILE, PASSWORD, STUB, People, csrf_token, hand_in, record_result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from grader.course.find import Course
from grader.serve import clock
from grader.serve.app import Config, create_app
from grader.serve.database import migrate, open_engine
from grader.serve.handin import MAX_BYTES
from grader.serve.models import Result, SigninAttempt

Client = Callable[[str], TestClient]


@pytest.fixture
def client(engine: Engine, course: Course, people: People) -> Client:
    """Return a client signed in as ``anonymous``, ``a``, ``b`` or ``instructor``."""
    app = create_app(Config(course=course, engine=engine))

    def make(role: str) -> TestClient:
        web = TestClient(app, follow_redirects=False)
        if role in ("a", "b"):
            reply = web.get(f"/signin/{people.a_link if role == 'a' else people.b_link}")
            assert reply.status_code == 303
        elif role == "instructor":
            token = csrf_token(web.get("/").text)
            reply = web.post(
                "/login", data={"name": "prof", "password": PASSWORD, "csrf_token": token}
            )
            assert reply.status_code == 303, reply.text
        return web

    return make


def _own_submission(client: Client, engine: Engine, course: Course) -> int:
    web = client("a")
    reply = hand_in(web)
    assert reply.status_code == 303, reply.text
    submission_id = int(reply.headers["location"].rsplit("/", 1)[-1])
    record_result(engine, submission_id, course)
    return submission_id


# Each route and who may open it: "anyone", "student" (any), "owner" (A, whose
# submission it is), "instructor".
ROUTES = [
    ("/", "anyone"),
    ("/api/exercises", "anyone"),
    ("/api/submissions", "student"),
    ("/submissions/{id}", "owner"),
    ("/submissions/{id}/report", "owner"),
    ("/api/submissions/{id}", "owner"),
    ("/class", "instructor"),
    ("/class/overview", "instructor"),
    ("/class/students/{a}", "instructor"),
    ("/class/download/results.json", "instructor"),
    ("/class/download/grades.csv", "instructor"),
    ("/class/download/mistakes.csv", "instructor"),
    ("/api/class", "instructor"),
    ("/class/download/scores.csv", "instructor"),
    ("/class/review", "instructor"),
]


@pytest.mark.parametrize("role", ["anonymous", "a", "b", "instructor"])
def test_every_route_answers_each_role_as_its_permission_says(
    client: Client, engine: Engine, course: Course, people: People, role: str
) -> None:
    submission_id = _own_submission(client, engine, course)
    web = client(role)
    for route, who in ROUTES:
        path = route.format(id=submission_id, a=people.a_id)
        reply = web.get(path)
        allowed = (
            who == "anyone"
            or (who == "student" and role in ("a", "b"))
            or (who == "owner" and role in ("a", "instructor"))
            or (who == "instructor" and role == "instructor")
        )
        if allowed:
            assert reply.status_code in (200, 303), (
                f"{role} {path}: {reply.status_code} {reply.text[:200]}"
            )
        else:
            expected = {
                "anonymous": 401,
                "a": 403,
                "b": 404 if who == "owner" else 403,
                "instructor": 403,
            }[role]
            assert reply.status_code == expected, f"{role} {path}: {reply.status_code}"
            assert "Traceback" not in reply.text


def test_a_student_sees_only_their_own_submissions_whatever_the_id(
    client: Client, engine: Engine, course: Course
) -> None:
    mine = _own_submission(client, engine, course)
    b = client("b")
    for guess in range(mine - 2, mine + 6):
        for path in (
            f"/submissions/{guess}",
            f"/submissions/{guess}/report",
            f"/api/submissions/{guess}",
        ):
            assert b.get(path).status_code == 404, path
    assert b.get("/api/submissions").json() == {"submissions": []}
    listed = client("a").get("/api/submissions").json()["submissions"]
    assert [s["id"] for s in listed] == [mine]


def test_forms_without_their_csrf_token_are_refused(client: Client) -> None:
    a = client("a")
    reply = a.post("/submit", data={"exercise": "01"}, files={"file": ("exercise.py", STUB)})
    assert reply.status_code == 403
    reply = a.post(
        "/submit",
        data={"exercise": "01", "csrf_token": "forged"},
        files={"file": ("exercise.py", STUB)},
    )
    assert reply.status_code == 403
    # The API never takes the cookie alone for a change: another site could send it.
    reply = a.post(
        "/api/submissions", data={"exercise": "01"}, files={"file": ("exercise.py", STUB)}
    )
    assert reply.status_code == 401
    assert a.get("/api/submissions").json() == {"submissions": []}
    anonymous = client("anonymous")
    assert anonymous.post("/login", data={"name": "prof", "password": PASSWORD}).status_code == 403
    teacher = client("instructor")
    assert teacher.post("/class/regrade", data={"exercise": "01"}).status_code == 403
    assert teacher.post("/logout", data={}).status_code == 403


def test_a_wrong_link_at_the_api_is_refused_at_once_not_after_the_database_gives_up(
    client: Client,
) -> None:
    # The wrong try is counted in a write of its own: it must not wait on a lock the
    # lookup itself holds (on SQLite that was a 503 after the 30 s busy timeout).
    web = client("anonymous")
    reply = web.post("/api/login", json={"link": "http://x/signin/not-a-real-link"})
    assert reply.status_code == 403, reply.text
    assert "wrong or has expired" in reply.json()["error"]


def test_repeated_wrong_sign_in_secrets_are_slowed_down(client: Client, people: People) -> None:
    web = client("anonymous")
    for _ in range(5):
        assert web.get("/signin/not-a-real-link").status_code == 403
    slowed = web.get("/signin/not-a-real-link")
    assert slowed.status_code == 429
    assert "wait" in slowed.text
    # Even the right link waits now: the address, not the guess, is slowed.
    assert web.get(f"/signin/{people.a_link}").status_code == 429
    assert (
        web.post("/api/login", json={"link": f"http://x/signin/{people.a_link}"}).status_code == 429
    )


def test_wrong_sign_ins_at_one_web_process_slow_down_another_on_the_same_database(
    engine: Engine, course: Course, people: People
) -> None:
    # Two web processes of one server: each its own application and its own engine.
    other = open_engine(engine.url.render_as_string(hide_password=False))
    try:
        first = TestClient(create_app(Config(course=course, engine=engine)), follow_redirects=False)
        second = TestClient(create_app(Config(course=course, engine=other)), follow_redirects=False)
        for web in (first, second, first, second, first):
            assert web.get("/signin/not-a-real-link").status_code == 403
        assert second.get("/signin/not-a-real-link").status_code == 429
        assert second.get(f"/signin/{people.a_link}").status_code == 429
        assert first.get(f"/signin/{people.a_link}").status_code == 429
        # Ten minutes on, the tries are forgotten (and their rows deleted at the next one).
        later = clock.now() + timedelta(minutes=11)
        with clock.using(lambda: later):
            assert second.get(f"/signin/{people.a_link}").status_code == 303
            assert first.get("/signin/not-a-real-link").status_code == 403
        with Session(engine) as session:
            assert session.scalar(select(func.count(SigninAttempt.id))) == 1
    finally:
        other.dispose()


def test_an_expired_link_signs_nobody_in(client: Client, people: People) -> None:
    later = clock.now() + timedelta(days=365)
    with clock.using(lambda: later):
        reply = client("anonymous").get(f"/signin/{people.a_link}")
    assert reply.status_code == 403
    assert "expired" in reply.text


def test_hostile_names_show_as_text_on_every_page(
    client: Client, engine: Engine, course: Course
) -> None:
    b = client("b")
    reply = hand_in(b, name=HOSTILE + ".py")
    assert reply.status_code == 303
    submission_id = int(reply.headers["location"].rsplit("/", 1)[-1])
    record_result(engine, submission_id, course)
    teacher = client("instructor")
    pages = [
        b.get("/").text,
        b.get(f"/submissions/{submission_id}").text,
        b.get(f"/submissions/{submission_id}/report").text,
        teacher.get("/class").text,
        teacher.get("/class/overview").text,
        teacher.get("/class/review").text,
    ]
    for page in pages:
        assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[3]
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in pages[0]


def test_pages_send_a_content_security_policy_and_refuse_framing(
    client: Client, engine: Engine, course: Course
) -> None:
    submission_id = _own_submission(client, engine, course)
    a = client("a")
    for path in ("/", f"/submissions/{submission_id}", f"/submissions/{submission_id}/report"):
        reply = a.get(path)
        policy = reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
        assert reply.headers["x-content-type-options"] == "nosniff"
    cookie = a.get("/").headers.get("set-cookie", "") + client("anonymous").get("/").headers.get(
        "set-cookie", ""
    )
    assert "httponly" in cookie.lower()


@pytest.mark.parametrize(
    ("name", "raw", "exercise", "status", "words"),
    [
        ("exercise.py", b"x" * (MAX_BYTES + 1), "01", 413, "MiB"),
        ("notes.txt", b"x = 1\n", "01", 415, ".py file or a .ipynb"),
        ("exercise.py", "x = 'é'\n".encode("latin-1"), "01", 422, "UTF-8"),
        ("exercise.ipynb", b"{not json", "01", 422, ""),
        ("exercise.py", b"x = 1\n", "99", 404, "unknown exercise"),
    ],
    # Named, not shown: a test's id goes into PYTEST_CURRENT_TEST, and an id holding the
    # 16 MiB file made the environment too large for the next program started.
    ids=["too_large", "not_python", "not_utf8", "broken_notebook", "unknown_exercise"],
)
def test_bad_input_gets_one_clear_line_and_nothing_is_kept(
    client: Client, name: str, raw: bytes, exercise: str, status: int, words: str
) -> None:
    a = client("a")
    reply = hand_in(a, name=name, raw=raw, exercise=exercise)
    assert reply.status_code == status, reply.text
    assert words in reply.text
    assert "Traceback" not in reply.text
    assert a.get("/api/submissions").json() == {"submissions": []}


def test_an_idempotency_key_makes_one_submission_of_a_retried_request(
    client: Client, engine: Engine, course: Course, people: People
) -> None:
    web = client("anonymous")
    token = web.post(
        "/api/login", json={"link": f"http://testserver/signin/{people.a_link}"}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-1"}
    first = web.post(
        "/api/submissions",
        data={"exercise": "01"},
        files={"file": ("exercise.py", STUB)},
        headers=headers,
    )
    again = web.post(
        "/api/submissions",
        data={"exercise": "01"},
        files={"file": ("exercise.py", STUB)},
        headers=headers,
    )
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and again.json()["repeated"]
    other = web.post(
        "/api/submissions",
        data={"exercise": "01"},
        files={"file": ("exercise.py", b"y = 2\n")},
        headers=headers,
    )
    assert other.status_code == 422
    listed = web.get("/api/submissions", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(listed["submissions"]) == 1
    bad = web.get("/api/submissions", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


def test_an_unreachable_or_read_only_database_is_a_503_in_one_line(
    course: Course, tmp_path: Path
) -> None:
    gone = open_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'grade.db'}")
    web = TestClient(create_app(Config(course=course, engine=gone)), follow_redirects=False)
    for path in ("/", "/api/submissions", "/class"):
        reply = web.get(path)
        assert reply.status_code == 503, (path, reply.text)
        assert reply.text.count("\n") <= 1 and "Traceback" not in reply.text
    database = tmp_path / "grade.db"
    writable = open_engine(f"sqlite:///{database}")
    migrate(writable)
    writable.dispose()
    read_only = open_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    web = TestClient(create_app(Config(course=course, engine=read_only)), follow_redirects=False)
    reply = web.post("/api/login", json={"link": "http://x/signin/whatever"})
    assert reply.status_code in (403, 503)
    reply = web.get("/")
    assert reply.status_code in (200, 503)
    assert "Traceback" not in reply.text


def test_the_cells_submit_sends_are_taken_in_as_a_notebook(client: Client, people: People) -> None:
    from grader.serve.client import notebook_bytes

    web = client("anonymous")
    link = f"http://testserver/signin/{people.a_link}"
    token = web.post("/api/login", json={"link": link}).json()["token"]
    cells = ["%matplotlib inline", STUB.decode()]
    reply = web.post(
        "/api/submissions",
        data={"exercise": "01"},
        files={"file": ("notebook.ipynb", notebook_bytes(cells))},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["exercise"] == "01_leaf_tensors"


def test_regrade_queues_the_latest_submissions_graded_with_older_checks(
    client: Client, engine: Engine, course: Course
) -> None:
    from sqlalchemy import func, select, update

    from grader.serve.models import Job

    submission_id = _own_submission(client, engine, course)
    teacher = client("instructor")
    assert "Regrade 01" not in teacher.get("/class").text  # graded with today's checks
    with Session(engine) as session, session.begin():
        session.execute(update(Result).values(checks_digest="older-checks"))
    page = teacher.get("/class").text
    assert "Regrade 01" in page
    before = _jobs(engine)
    reply = teacher.post("/class/regrade", data={"exercise": "01", "csrf_token": csrf_token(page)})
    assert reply.status_code == 303 and reply.headers["location"].endswith("regraded=1")
    assert _jobs(engine) == before + 1
    with Session(engine) as session:
        job = session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert job is not None and job.submission_id == submission_id
        queued = session.scalar(select(func.count(Job.id)).where(Job.status == "queued"))
        assert (queued or 0) >= 1


def _jobs(engine: Engine) -> int:
    from sqlalchemy import func, select

    from grader.serve.models import Job

    with Session(engine) as session:
        return int(session.scalar(select(func.count(Job.id))) or 0)
