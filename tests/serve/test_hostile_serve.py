"""The hostile submissions of tests/e2e/test_hostile.py, handed in through the server.

Each is an exercise 01 submission that is wrong somewhere: full marks would mean
its attack worked. Through the server each must end graded below full marks, the
database must stay whole, and the web must still answer. (The leftovers each attack
tries, files and processes, are checked by tests/e2e/test_hostile.py on the same
confined child.)
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from serving import COURSE, GRADE, Server

HOSTILE = COURSE / "tests" / "fixtures" / "submissions" / "hostile"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(GRADE is None, reason="the grade command is not on PATH"),
]


def test_every_hostile_submission_is_contained_through_the_server(tmp_path: Path) -> None:
    server = Server(tmp_path, jobs=1, options=["--timeout", "10", "--memory", "1024"])
    server.setup(["mallory"])
    server.start()
    try:
        token = httpx.post(
            f"{server.url}/api/login", json={"link": server.links["mallory"]}, timeout=30
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        sent: dict[int, str] = {}
        for attack in sorted(HOSTILE.glob("*.py")) + sorted(HOSTILE.glob("*.ipynb")):
            reply = httpx.post(
                f"{server.url}/api/submissions",
                headers=headers,
                data={"exercise": "01"},
                files={"file": (attack.name, attack.read_bytes())},
                timeout=60,
            )
            # Each is valid Python under the size limit: taken in, and graded in the child.
            assert reply.status_code == 202, (attack.name, reply.text)
            sent[reply.json()["id"]] = attack.name
        deadline = time.monotonic() + 900
        graded: dict[int, dict[str, float]] = {}
        while len(graded) < len(sent):
            assert time.monotonic() < deadline, f"not graded: {set(sent) - set(graded)}"
            for submission_id in set(sent) - set(graded):
                answer = httpx.get(
                    f"{server.url}/api/submissions/{submission_id}", headers=headers, timeout=30
                ).json()
                if answer["status"] == "graded":
                    graded[submission_id] = answer
            time.sleep(1)
        assert len(graded) == len(list(HOSTILE.glob("*.py"))) > 10
        for submission_id, answer in graded.items():
            assert answer["score"] < answer["max_score"] == 10, sent[submission_id]
        assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200
        with sqlite3.connect(tmp_path / "grade.db") as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        server.stop()
