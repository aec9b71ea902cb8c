"""In real chromium: a student hands in twice and sees each graded; the class view follows."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving import FIXTURES, GRADE, PASSWORD, Server

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
