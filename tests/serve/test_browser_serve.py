"""In real chromium: a student hands in twice and sees each graded; the class view follows;
an instructor's extension and override reach the student after the deadline."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from serving import COURSE, FIXTURES, GRADE, PASSWORD, Server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(GRADE is None, reason="the grade command is not on PATH"),
]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(f"no chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def test_a_student_hands_in_twice_and_the_instructor_sees_it_land(
    browser: Any, tmp_path: Path
) -> None:
    server = Server(tmp_path, jobs=1)
    server.setup(["alice"])
    server.start()
    try:
        errors: list[str] = []
        teacher = browser.new_page()
        teacher.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        teacher.goto(server.url + "/")
        teacher.fill("input[name=name]", "prof")
        teacher.fill("input[name=password]", PASSWORD)
        teacher.click("button[type=submit]")
        teacher.wait_for_url(re.compile(r".*/class$"))
        assert "alice" in teacher.inner_text("#students")
        before = teacher.inner_text("#students")  # nothing handed in yet

        student = browser.new_context().new_page()
        student.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        student.goto(server.links["alice"])
        student.wait_for_url(server.url + "/")
        wrong = FIXTURES / "forgot_requires_grad.py"
        student.set_input_files("input[type=file]", str(wrong))
        student.click("#handin button[type=submit]")
        student.wait_for_url(re.compile(r".*/submissions/\d+$"))
        # Graded without a reload: the page's script polls until the score shows.
        student.wait_for_selector("[data-score] a", timeout=300_000)
        assert student.inner_text("[data-status]") == "graded"
        student.click("[data-score] a")
        report = student.inner_text("body")
        assert "FAIL" in report or "requires_grad" in report

        student.goto(server.url + "/")
        student.set_input_files("input[type=file]", str(FIXTURES / "passes_all.py"))
        student.click("#handin button[type=submit]")
        student.wait_for_selector("[data-score] a", timeout=300_000)
        assert student.inner_text("[data-score] a").startswith("10")
        student.goto(server.url + "/")
        attempts = student.inner_text("#attempts")
        assert "forgot_requires_grad.py" in attempts and "passes_all.py" in attempts

        # The class page reloads itself as grades arrive (one reload per new grade).
        assert "0/70" in before
        teacher.wait_for_function(
            "() => document.querySelector('#students').innerText.includes('10/70')",
            timeout=120_000,
        )
        assert errors == []
    finally:
        server.stop()


def _course_past_its_deadline(folder: Path) -> Path:
    """Copy the course with exercise 01 due a day ago (the real clock: a server of its own)."""
    for part in ("exercises", "checks", "solutions", "templates"):
        shutil.copytree(COURSE / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    due = datetime.now(timezone.utc) - timedelta(days=1)
    (folder / "course.toml").write_text(
        'title = "autograd"\n[rules]\nlate = "refuse"\n'
        f"[rules.01]\ndeadline = {due:%Y-%m-%dT%H:%M:%SZ}\n",
        encoding="utf-8",
    )
    return folder


def test_an_extension_and_an_override_reach_the_student_after_the_deadline(
    browser: Any, tmp_path: Path
) -> None:
    server = Server(tmp_path, jobs=0, course=_course_past_its_deadline(tmp_path / "course"))
    server.setup(["alice"])
    server.start()
    try:
        errors: list[str] = []
        student = browser.new_context().new_page()
        student.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        student.goto(server.links["alice"])
        student.wait_for_url(server.url + "/")
        student.select_option("select[name=exercise]", "01_leaf_tensors")
        student.set_input_files("input[type=file]", str(FIXTURES / "passes_all.py"))
        student.click("#handin button[type=submit]")
        assert "nothing is taken after it" in student.inner_text("body")
        errors.clear()  # the console's note of that refusal's 403: the refusal itself

        teacher = browser.new_page()
        teacher.goto(server.url + "/")
        teacher.fill("input[name=name]", "prof")
        teacher.fill("input[name=password]", PASSWORD)
        teacher.click("button[type=submit]")
        teacher.wait_for_url(re.compile(r".*/class$"))
        teacher.click("#students a[data-student-name]")
        teacher.wait_for_url(re.compile(r".*/class/students/\d+$"))
        later = datetime.now(timezone.utc) + timedelta(days=2)
        teacher.select_option("#extend select[name=exercise]", "01_leaf_tensors")
        teacher.fill("#extend input[name=until]", f"{later:%Y-%m-%dT%H:%M}")
        teacher.fill("#extend input[name=reason]", "ill, with a note")
        teacher.click("#extend button[type=submit]")
        teacher.wait_for_url(re.compile(r".*done=extension$"))
        teacher.select_option("#override select[name=exercise]", "01_leaf_tensors")
        teacher.fill("#override input[name=score]", "7")
        teacher.fill("#override input[name=comment]", "credit for the bug you reported")
        teacher.click("#override button[type=submit]")
        teacher.wait_for_url(re.compile(r".*done=override$"))
        assert "credit for the bug you reported" in teacher.inner_text("#exercises")

        student.goto(server.url + "/")
        row = student.inner_text("#exercises tr[data-exercise='01_leaf_tensors']")
        assert "7/10" in row and "credit for the bug you reported" in row
        assert "extended for you" in row
        student.select_option("select[name=exercise]", "01_leaf_tensors")
        student.set_input_files("input[type=file]", str(FIXTURES / "passes_all.py"))
        student.click("#handin button[type=submit]")
        student.wait_for_url(re.compile(r".*/submissions/\d+$"))
        assert student.inner_text("[data-status]") == "queued"
        assert errors == []
    finally:
        server.stop()
