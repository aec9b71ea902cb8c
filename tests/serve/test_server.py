"""The real server on a loopback port: ``grade submit`` as ``grade 01``; nothing lost to kill -9.

These start ``grade serve`` itself (web process and worker processes) with the
repository's course, on SQLite in tmp_path and on a PostgreSQL database of the
tests' own cluster, and drive it over HTTP.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import FIXTURES, GRADE, Server, grade
from sqlalchemy import Engine, text

from grader.serve.database import open_engine

pytestmark = pytest.mark.skipif(GRADE is None, reason="the grade command is not on PATH")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    running = Server(tmp_path, jobs=1, database=database_url)
    yield running
    running.stop()


def _niceness(pid: int) -> int:
    # Field 19 of /proc/PID/stat, counted after the command's closing parenthesis.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_grade_submit_prints_what_grade_prints_and_exits_the_same(
    server: Server, tmp_path: Path
) -> None:
    server.setup(["alice"])
    server.start()
    # Its workers give way to the web process: a hand-in waits for no grading.
    assert server.process is not None
    assert [_niceness(pid) for pid in server.workers()] == [_niceness(server.process.pid) + 10]
    clone = tmp_path / "clone"
    assert grade("release", str(clone)).returncode == 0
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("GITHUB_ACTIONS", None)
    login = grade("login", server.links["alice"] + "\r\n", cwd=clone, env=env)
    assert login.returncode == 0, login.stderr
    kept = tmp_path / "config" / "autograd-grader" / "server.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert server.links["alice"].rsplit("/", 1)[-1] not in kept.read_text()  # a token, not the link
    target = clone / "exercises" / "01_leaf_tensors" / "exercise.py"
    for fixture, status in (("forgot_requires_grad.py", 1), ("passes_all.py", 0)):
        shutil.copy(FIXTURES / fixture, target)
        served = grade("submit", "01", cwd=clone, env=env)
        local = grade("01", "--seed", "1", "--html", str(tmp_path / "r.html"), cwd=clone, env=env)
        assert served.returncode == local.returncode == status, served.stderr
        # Every line but the last ones, which say where the report is.
        assert served.stdout.splitlines()[:-2] == local.stdout.splitlines()[:-1]
        assert "report on the server" in served.stdout.splitlines()[-1]
    quick = grade("submit", "01", "--no-wait", cwd=clone, env=env)
    assert quick.returncode == 0 and "handed in: http://127.0.0.1" in quick.stdout
    unknown = grade("submit", "99", cwd=clone, env=env)
    assert unknown.returncode == 2 and "unknown exercise" in unknown.stderr


@pytest.mark.slow
def test_nothing_accepted_is_lost_when_the_web_process_and_a_worker_are_killed(
    tmp_path: Path, database_url: str
) -> None:
    server = Server(tmp_path, jobs=2, database=database_url)
    students = [f"student{n:02d}" for n in range(20)]
    server.setup(students)
    server.start()
    engine = open_engine(database_url)
    try:
        _kill_mid_way(server, students, engine)
    finally:
        server.stop()
        engine.dispose()


def _kill_mid_way(server: Server, students: list[str], engine: Engine) -> None:
    tokens = {}
    for name in students:
        reply = httpx.post(f"{server.url}/api/login", json={"link": server.links[name]}, timeout=30)
        assert reply.status_code == 200, reply.text
        tokens[name] = reply.json()["token"]
    source = (FIXTURES / "passes_all.py").read_text(encoding="utf-8")
    accepted: dict[str, int] = {}  # idempotency key -> submission id, from success replies
    lock = threading.Lock()
    sent = threading.Semaphore(0)

    def hand_in(name: str) -> None:
        for attempt in range(3):
            key = f"{name}-{attempt}"
            body = f"{source}\n# attempt {attempt} of {name}\n".encode()
            deadline = time.monotonic() + 900
            while True:
                try:
                    reply = httpx.post(
                        f"{server.url}/api/submissions",
                        headers={"Authorization": f"Bearer {tokens[name]}", "Idempotency-Key": key},
                        data={"exercise": "01"},
                        files={"file": ("exercise.py", body)},
                        timeout=60,
                    )
                    if reply.status_code in (200, 202):
                        with lock:
                            assert accepted.get(key, reply.json()["id"]) == reply.json()["id"]
                            accepted[key] = reply.json()["id"]
                        sent.release()
                        break
                except httpx.TransportError:
                    pass  # no reply: the same request again, with the same key
                assert time.monotonic() < deadline, f"{key} never accepted"
                time.sleep(0.3)

    clients = [threading.Thread(target=hand_in, args=(name,)) for name in students]
    for client in clients:
        client.start()
    for _ in range(20):
        sent.acquire(timeout=120)
    # Mid-way: one worker, then the web process (its other workers end with it), kill -9.
    os.kill(server.workers()[0], signal.SIGKILL)
    time.sleep(0.5)
    server.kill()
    time.sleep(1)
    server.start()
    for client in clients:
        client.join(timeout=1000)
    assert len(accepted) == 60
    # A retried request that had a reply already makes no second submission either.
    first_key = next(iter(accepted))
    name = first_key.rsplit("-", 1)[0]
    attempt = int(first_key.rsplit("-", 1)[1])
    again = httpx.post(
        f"{server.url}/api/submissions",
        headers={"Authorization": f"Bearer {tokens[name]}", "Idempotency-Key": first_key},
        data={"exercise": "01"},
        files={"file": ("exercise.py", f"{source}\n# attempt {attempt} of {name}\n".encode())},
        timeout=10,
    )
    assert again.status_code == 200 and again.json()["id"] == accepted[first_key]
    deadline = time.monotonic() + 400
    while True:
        with engine.connect() as connection:
            left = connection.scalar(text("SELECT count(*) FROM jobs WHERE status != 'done'"))
        if left == 0:
            break
        assert time.monotonic() < deadline, f"{left} job(s) never graded"
        time.sleep(1)
    with engine.connect() as connection:
        submissions = connection.execute(text("SELECT id FROM submissions")).all()
        assert sorted(i for (i,) in submissions) == sorted(accepted.values())
        per: dict[int, int] = dict(
            connection.execute(
                text("SELECT submission_id, count(*) FROM results GROUP BY submission_id")
            ).all()
        )
        assert per == {i: 1 for i in accepted.values()}
        scores = connection.execute(text("SELECT DISTINCT score = max_score FROM results")).all()
        assert [bool(full) for (full,) in scores] == [True]
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _web_processes(server: Server) -> list[int]:
    """The web processes uvicorn's supervisor started (spawned), not the grading workers."""
    found = []
    for pid in server.workers():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:  # not the resource tracker spawning starts too
            found.append(pid)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _graded(server: Server, token: str, submission_id: int) -> dict[str, Any]:
    """Wait for the submission's grade (a worker loads torch first: minutes on a busy machine)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        answer: dict[str, Any] = httpx.get(
            f"{server.url}/api/submissions/{submission_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        if answer["status"] == "graded":
            return answer
        time.sleep(0.5)
    raise AssertionError(f"submission {submission_id} was not graded")


def test_several_web_processes_share_one_port_and_one_database(
    tmp_path: Path, database_url: str
) -> None:
    server = Server(tmp_path, jobs=1, database=database_url, options=["--web-processes", "2"])
    students = [f"student{n:02d}" for n in range(8)]
    server.setup(students)
    server.start()
    try:
        deadline = time.monotonic() + 120
        while len(_web_processes(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        first = _web_processes(server)
        assert len(first) == 2, first

        # Sign-ins and a hand-in, from many clients at once: whichever process answers,
        # the tokens it issues are good at the other (they live in the database).
        def login(name: str) -> str:
            reply = httpx.post(f"{server.url}/api/login", json={"link": server.links[name]})
            assert reply.status_code == 200, reply.text
            return str(reply.json()["token"])

        with ThreadPoolExecutor(8) as pool:
            tokens = dict(zip(students, pool.map(login, students), strict=True))
        for token in tokens.values():
            mine = httpx.get(
                f"{server.url}/api/submissions", headers={"Authorization": f"Bearer {token}"}
            )
            assert mine.status_code == 200 and mine.json() == {"submissions": []}

        # One web process killed: the other answers at once, and a new one takes its place.
        os.kill(first[0], signal.SIGKILL)
        for _ in range(20):
            assert httpx.get(f"{server.url}/api/health", timeout=10).status_code == 200
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = [pid for pid in _web_processes(server) if _alive(pid)]
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.2)
        assert len(now) == 2 and first[0] not in now, now

        token = tokens[students[0]]
        reply = httpx.post(
            f"{server.url}/api/submissions",
            headers={"Authorization": f"Bearer {token}"},
            data={"exercise": "01"},
            files={"file": ("exercise.py", (FIXTURES / "passes_all.py").read_bytes())},
            timeout=60,
        )
        assert reply.status_code in (200, 202), reply.text
        done = _graded(server, token, reply.json()["id"])
        assert done["score"] == done["max_score"], done

        # grade serve killed outright: none of its web processes goes on answering.
        survivors = [pid for pid in _web_processes(server) if _alive(pid)]
        server.kill()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in survivors) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in survivors), survivors
    finally:
        server.stop()
