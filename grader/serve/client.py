"""``grade login LINK`` and ``grade submit 03``: hand in from a student's clone of the course.

The login keeps a token (never the link) in the user's config folder, mode
0600. ``submit`` uploads the exercise's file with an idempotency key (a retry
after a lost reply makes no second submission), waits for the grade, and
prints the very summary ``grade 03`` prints, with its exit status.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ClientError", "config_path", "held_back", "login", "send", "wait_for"]


class ClientError(Exception):
    """A one-line reason why the login or the submission failed (exit 2)."""


def config_path() -> Path:
    """Return where the token is kept: $XDG_CONFIG_HOME/autograd-grader/server.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autograd-grader" / "server.json"


def _reason(reply: Any) -> str:
    try:
        return str(reply.json().get("error") or reply.text.strip())
    except ValueError:
        return reply.text.strip().splitlines()[0] if reply.text.strip() else str(reply.status_code)


def login(link: str) -> str:
    """Exchange a sign-in link for a token kept in the config folder; return a line to print."""
    import httpx

    link = link.strip()  # copied from a spreadsheet: a line ending comes along
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or "/signin/" not in parts.path:
        raise ClientError(f"{link!r} is not a sign-in link (it looks like https://HOST/signin/...)")
    server = f"{parts.scheme}://{parts.netloc}{parts.path.split('/signin/', 1)[0]}"
    try:
        reply = httpx.post(f"{server}/api/login", json={"link": link}, timeout=30)
    except httpx.HTTPError as exc:
        raise ClientError(f"cannot reach the grading server {server} ({exc})") from None
    if reply.status_code != 200:
        raise ClientError(f"the server refused the link: {_reason(reply)}")
    answer = reply.json()
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"server": server, "token": answer["token"], "student": answer["student"]}, out)
    os.chmod(path, 0o600)  # an older file keeps its mode through O_TRUNC
    return f"signed in to {server} as {answer['student']} (token kept in {path})"


def _saved() -> dict[str, str]:
    try:
        saved = json.loads(config_path().read_text(encoding="utf-8"))
        return {"server": str(saved["server"]), "token": str(saved["token"])}
    except (OSError, ValueError, KeyError, TypeError):
        raise ClientError(
            "not signed in: run grade login LINK with your sign-in link first"
        ) from None


def send(
    exercise: str, filename: str, raw: bytes, *, timeout: float = 60.0
) -> tuple[dict[str, str], dict[str, Any]]:
    """Upload one file for ``exercise``, retrying a lost reply with the same key."""
    import httpx

    saved = _saved()
    headers = {"Authorization": f"Bearer {saved['token']}", "Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(5):
        try:
            reply = httpx.post(
                f"{saved['server']}/api/submissions",
                headers=headers,
                data={"exercise": exercise},
                files={"file": (filename, raw)},
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            if attempt == 4:
                raise ClientError(f"cannot reach the grading server ({exc})") from None
            time.sleep(1 + attempt)  # the same key: the server takes it in at most once
            continue
        if reply.status_code == 503 and attempt < 4:
            time.sleep(2 + attempt)
            continue
        if reply.status_code not in (200, 202):
            raise ClientError(f"the server refused the submission: {_reason(reply)}")
        return saved, reply.json()
    raise ClientError("the grading server is unavailable: try again later")


def wait_for(saved: dict[str, str], submission_id: int, *, timeout: float) -> dict[str, Any]:
    """Poll the submission until it is graded; return the server's reply."""
    import httpx

    headers = {"Authorization": f"Bearer {saved['token']}"}
    deadline = time.monotonic() + timeout
    delayed_said = False
    while True:
        try:
            reply = httpx.get(
                f"{saved['server']}/api/submissions/{submission_id}", headers=headers, timeout=30
            )
        except httpx.TransportError:
            reply = None
        if reply is not None and reply.status_code == 200:
            answer = reply.json()
            if answer["status"] == "graded" and ("results" in answer or "shown" in answer):
                return dict(answer)
            if answer["status"] == "refused":
                raise ClientError(f"the server refused the submission: {answer.get('refusal')}")
            if answer["status"] == "delayed" and not delayed_said:
                import click

                click.echo(
                    "grade: the grading machine had a problem; your submission waits in the "
                    "queue and will be graded (it is not scored zero)",
                    err=True,
                )
                delayed_said = True
        elif reply is not None and reply.status_code not in (502, 503, 504):
            raise ClientError(f"the server refused: {_reason(reply)}")
        if time.monotonic() > deadline:
            raise ClientError(
                f"not graded yet after {timeout:.0f} s; it stays queued: see "
                f"{saved['server']}/submissions/{submission_id}"
            )
        time.sleep(0.5)


def held_back(exercise: str, answer: dict[str, Any]) -> str:
    """Write the part of a grade the course shows before its release, from the server's reply.

    Only what the reply holds (the score, the hints, the release time): the
    server has already cut it down to what the course allows.
    """
    lines = [f"{exercise}: received"]
    if answer.get("score") is not None:
        lines = [f"{exercise}: {answer['score']:g}/{answer['max_score']:g}"]
    lines += [f"  - {hint}" for hint in answer.get("hints", [])]
    if answer.get("released"):
        lines.append(f"the full report is shown from {answer['released']}")
    return "\n".join(lines)


def notebook_bytes(cells: list[str]) -> bytes:
    """Return the kernel's cells as the notebook ``check()`` grades (cells in the order run)."""
    import nbformat

    from grader.submission.source import KERNEL_HISTORY

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata=KERNEL_HISTORY
    )
    return nbformat.writes(notebook).encode("utf-8")


def submit_notebook(
    course_root: Path, exercise: str, cells: list[str], *, timeout: float
) -> tuple[dict[str, Any], str]:
    """Hand in the kernel's cells for ``exercise``; return the server's answer and address.

    Raises ClientError (the server's one-line answer) or CourseError.
    """
    from grader.course.find import Course

    course = Course.load(course_root)
    name = course.exercise(exercise).name
    saved, accepted = send(name, "notebook.ipynb", notebook_bytes(cells))
    answer = wait_for(saved, int(accepted["id"]), timeout=timeout)
    return answer, str(saved["server"])
