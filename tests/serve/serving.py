"""Fixtures of the server's tests: a migrated database (SQLite, and PostgreSQL when installed),
the course, students and an instructor, and the application behind an in-process client."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from grader.course.find import Course
from grader.judge.checks import max_score
from grader.score.points import unjudged_result
from grader.serve import clock
from grader.serve.accounts import add_instructor, import_roster
from grader.serve.database import migrate, open_engine
from grader.serve.models import Result

COURSE = Path(__file__).resolve().parents[2]
STUB = (COURSE / "exercises" / "01_leaf_tensors" / "exercise.py").read_bytes()
PASSWORD = "a-long-password"
# A name that must show as text on every page (and a file name like it).
HOSTILE = "<img src=x onerror=alert(1)>"


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    """A throwaway PostgreSQL server on a unix socket, for the whole test session."""

    socket: Path
    count: int = 0

    def new_database(self) -> str:
        self.count += 1
        name = f"grade_test_{os.getpid()}_{self.count}"
        admin = open_engine(self.url("postgres"))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://grader@/{name}?host={self.socket}"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Start a PostgreSQL cluster of its own (skipped only where PostgreSQL is not installed)."""
    binaries = _postgres_bin()
    if binaries is None:
        pytest.skip(
            "PostgreSQL's initdb and pg_ctl are not installed (Debian: apt install postgresql)"
        )
    as_root = os.geteuid() == 0
    if as_root:
        # PostgreSQL refuses to run as root: the cluster belongs to nobody, in a folder that
        # user can reach (pytest's own folders are root's, mode 0700); removed at the end.
        home = Path(tempfile.mkdtemp(prefix="grade-test-pg-"))
        os.chmod(home, 0o755)
    else:
        home = tmp_path_factory.mktemp("pg")
    data, socket = home / "data", home / "socket"
    socket.mkdir()
    run_as = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if as_root else []
    if as_root:
        shutil.chown(home, "nobody", "nogroup")
        shutil.chown(socket, "nobody", "nogroup")
    log = home / "log"
    try:
        subprocess.run(
            [
                *run_as,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "grader",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-k {socket} -c listen_addresses='' -c fsync=off -c max_connections=200",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield Cluster(socket)
    finally:
        subprocess.run(
            [*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        if as_root:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: SQLite in tmp_path, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'grade.db'}"
    cluster: Cluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    engine = open_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def course() -> Course:
    return Course.load(COURSE)


@dataclass(frozen=True)
class People:
    """The roster's two students (ids and sign-in secrets) and the instructor's name."""

    a_id: int
    a_link: str
    b_id: int
    b_link: str
    instructor: str = "prof"


@pytest.fixture
def people(engine: Engine, tmp_path: Path) -> People:
    roster = tmp_path / "roster.csv"
    roster.write_text(f'folder,student\nalice,Alice\nbob,"{HOSTILE}"\n', encoding="utf-8")
    with Session(engine) as session, session.begin():
        links = import_roster(session, roster, None, "http://testserver")
        add_instructor(session, "prof", PASSWORD)
    by = {folder: link.rsplit("/", 1)[-1] for folder, _, link in links}
    from sqlalchemy import select

    from grader.serve.models import Student

    with Session(engine) as session:
        ids = {s.name: s.id for s in session.scalars(select(Student))}
    return People(ids["alice"], by["alice"], ids["bob"], by["bob"])


GRADE = shutil.which("grade")
FIXTURES = COURSE / "tests" / "fixtures" / "submissions" / "01_leaf_tensors"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def grade(
    *args: str, cwd: Path = COURSE, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    assert GRADE is not None
    done = subprocess.run(
        [GRADE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@dataclass
class Server:
    """``grade serve`` running on a loopback port, restartable."""

    folder: Path
    jobs: int
    # The database's URL (SQLite in the folder when empty).
    database: str = ""
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    links: dict[str, str] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    course: Path = COURSE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> str:
        return self.database or f"sqlite:///{self.folder / 'grade.db'}"

    def setup(self, students: list[str]) -> None:
        roster = self.folder / "roster.csv"
        roster.write_text("folder\n" + "\n".join(students) + "\n", encoding="utf-8")
        links = self.folder / "signin-links.csv"
        done = grade(
            "serve",
            "roster",
            str(roster),
            "--db",
            self.db,
            "--url",
            self.url,
            "--links",
            str(links),
        )
        assert done.returncode == 0, done.stderr
        for line in links.read_text(encoding="utf-8").splitlines()[1:]:
            folder, _, link = line.strip().split(",")
            self.links[folder] = link
        done = grade("serve", "add-instructor", "prof", "--db", self.db, "--password", PASSWORD)
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        assert GRADE is not None
        log = open(self.folder / "serve.log", "ab")  # noqa: SIM115 -- the server's for its life
        self.process = subprocess.Popen(
            [
                GRADE,
                "serve",
                "--db",
                self.db,
                "--course",
                str(self.course),
                "--port",
                str(self.port),
                "--jobs",
                str(self.jobs),
                "--seed",
                "1",
                "--lease",
                "3",
                *self.options,
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        # Each worker loads torch and starts a zygote first: on a busy machine, minutes.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "serve.log").read_text()
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError("grade serve did not come up")

    def workers(self) -> list[int]:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def csrf_token(page: str) -> str:
    """Return the CSRF token of the first form on ``page``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def hand_in(
    web: Any,
    name: str = "exercise.py",
    raw: bytes = STUB,
    key: str = "",
    exercise: str = "01",
) -> httpx.Response:
    """Hand in a file through the student's page form (``web`` is a signed-in TestClient)."""
    token = csrf_token(web.get("/").text)
    reply: httpx.Response = web.post(
        "/submit",
        data={"exercise": exercise, "csrf_token": token, "idempotency_key": key},
        files={"file": (name, raw)},
    )
    return reply


def record_result(
    engine: Engine,
    submission_id: int,
    course: Course,
    score: float = 0.0,
    checks: list[dict[str, Any]] | None = None,
) -> None:
    """Record a result of exercise 01 as a worker would (no worker runs in these tests).

    Without ``checks`` the submission "would not load"; with them it reached the checks.
    """
    exercise = course.exercise("01")
    top = max_score(exercise.checks)
    record: dict[str, Any] = dict(
        unjudged_result(exercise.name, exercise.title, "error", "it would not load", top)
    )
    if checks is not None:
        record.update(status="failed", hint=None, error=None, checks=checks, score=score)
    record["checks_digest"] = exercise.checks_digest
    with Session(engine) as session, session.begin():
        session.add(
            Result(
                submission_id=submission_id,
                checks_digest=exercise.checks_digest,
                seed=1,
                status=str(record["status"]),
                score=score,
                max_score=top,
                document=json.dumps(record),
                graded_at=clock.now(),
            )
        )
        from sqlalchemy import update

        from grader.serve.models import Submission

        session.execute(
            update(Submission).where(Submission.id == submission_id).values(status="graded")
        )
