"""Fixtures of the server's tests: a migrated database (SQLite, and PostgreSQL when installed),
the course, students and an instructor, and the application behind an in-process client."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from grader.course import Course
from grader.serve.accounts import add_instructor, import_roster
from grader.serve.database import migrate, open_engine

COURSE = Path(__file__).resolve().parents[2]
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


def wait_until(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)
