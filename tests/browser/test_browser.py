"""Open the reports in real headless chromium: no errors, no requests, sorting works."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

import report_samples as samples  # noqa: E402

from grader.report import render_class_overview, render_student_report  # noqa: E402

# Everything that could make chromium phone home on its own, which would
# otherwise look like a request from the page.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(f"no chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Page:
    """A page opened from a file, recording console errors and requests."""

    def __init__(self, browser: object, path: Path) -> None:
        self.url = path.as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(self.url)

    def _console(self, message: object) -> None:
        if message.type in ("error", "warning"):  # type: ignore[attr-defined]
            self.errors.append(message.text)  # type: ignore[attr-defined]

    def outside_requests(self) -> list[str]:
        """Return every request but the page itself and inline data."""
        return [u for u in self.requests if u != self.url and not u.startswith("data:")]


def _write(path: Path, html: str) -> Path:
    path.write_text(html, encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_student_report_in_chromium(browser: object, tmp_path: Path, lang: str) -> None:
    html = render_student_report(
        samples.partly_wrong(),
        seed=samples.SEED,
        lang=lang,
        templates=TEMPLATES,
        title="PyTorch autograd",
    )
    opened = Page(browser, _write(tmp_path / f"report-{lang}.html", html))
    page = opened.page

    assert page.locator("#total-score").is_visible()
    assert "/ 10" in page.locator("#total-score").inner_text()
    fail = page.locator(".mark.fail").first
    assert fail.is_visible()
    assert ("FAIL" if lang == "en" else "未通过") in fail.inner_text()
    assert page.locator("figure.plot svg").first.is_visible()
    assert page.locator("figure.plot svg").count() == 2
    # The hostile name and output stayed text: no script element came of them.
    assert page.locator("script").count() == 0
    assert samples.HOSTILE in page.locator("pre.output").inner_text()
    assert opened.errors == []
    assert opened.outside_requests() == []
    page.screenshot(path=str(tmp_path / f"report-{lang}.png"), full_page=True)
    page.close()


def test_crashed_report_in_chromium(browser: object, tmp_path: Path) -> None:
    html = render_student_report(
        samples.crashed(), seed=samples.SEED, lang="en", templates=TEMPLATES, title="Course"
    )
    opened = Page(browser, _write(tmp_path / "crashed.html", html))
    assert opened.page.locator("pre.traceback").is_visible()
    assert opened.errors == []
    assert opened.outside_requests() == []
    opened.page.screenshot(path=str(tmp_path / "crashed.png"), full_page=True)
    opened.page.close()


def test_overview_sorts_in_chromium(browser: object, tmp_path: Path) -> None:
    html = render_class_overview(
        samples.class_results(),
        lang="en",
        templates=TEMPLATES,
        title="PyTorch autograd",
        report_href=lambda name: f"{name}/report.html",
    )
    opened = Page(browser, _write(tmp_path / "overview.html", html))
    page = opened.page
    names = page.locator("table.students tbody tr td:first-child")
    assert page.locator("figure.plot svg").is_visible()

    page.locator("table.students thead th").nth(1).locator("button").click()
    ascending = names.all_inner_texts()
    assert ascending[0] == "carol" and ascending[-1] == "alice"
    assert page.locator("table.students thead th").nth(1).get_attribute("aria-sort") == "ascending"

    page.locator("table.students thead th").nth(1).locator("button").click()
    assert names.all_inner_texts() == ascending[::-1]

    assert opened.errors == []
    assert opened.outside_requests() == []
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    page.close()


def test_overview_is_complete_without_javascript(browser: object, tmp_path: Path) -> None:
    html = render_class_overview(
        samples.class_results(),
        lang="en",
        templates=TEMPLATES,
        title="Course",
        report_href=lambda name: f"{name}/report.html",
    )
    path = _write(tmp_path / "overview.html", html)
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(path.as_uri())
    rows = page.locator("table.students tbody tr")
    assert rows.count() == 3
    assert page.locator("table.students thead th button").count() == 0
    assert page.locator(".js-only").is_hidden()
    context.close()
