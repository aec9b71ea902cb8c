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

from grader.render.locale import Locale  # noqa: E402
from grader.render.report import (  # noqa: E402
    render_class_overview,
    render_near_copy,
    render_student_report,
)

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
        locale=Locale(TEMPLATES, lang),
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
        samples.crashed(),
        seed=samples.SEED,
        locale=Locale(TEMPLATES, "en"),
        templates=TEMPLATES,
        title="Course",
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
        locale=Locale(TEMPLATES, "en"),
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
        locale=Locale(TEMPLATES, "en"),
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


def _reviewed_overview(lang: str) -> str:
    return render_class_overview(
        samples.reviewed_class_results(),
        locale=Locale(TEMPLATES, lang),
        templates=TEMPLATES,
        title="PyTorch autograd",
        report_href=lambda name: f"{name}/report.html",
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_overview_review_sections_in_chromium(browser: object, tmp_path: Path, lang: str) -> None:
    opened = Page(browser, _write(tmp_path / f"overview-{lang}.html", _reviewed_overview(lang)))
    page = opened.page
    mistakes = page.locator("#common-mistakes")
    assert mistakes.is_visible()
    rows = page.locator("table.mistakes tbody tr")
    assert rows.count() == 2
    assert rows.first.locator("td").nth(1).inner_text() == "16"
    assert rows.first.locator("td").nth(2).inner_text() == "50%"
    # A long list of students folds away; what shows is readable.
    assert rows.first.locator("details").count() == 1
    assert rows.first.locator("td a:visible").count() == 12
    near = page.locator("#near-copies")
    assert near.is_visible()
    assert near.locator(".note").is_visible()
    assert near.locator("table.near-copies tbody tr").count() == 2
    assert near.locator("a[href='similarity/pair-0001.html']").is_visible()
    heading = near.locator("h2").inner_text()
    assert heading == ("Similar submissions to review" if lang == "en" else "需人工查看的相似提交")
    # The hostile student name and hint text stayed text.
    assert page.locator("script").count() == 1  # the template's own sorting script
    assert samples.HOSTILE in mistakes.inner_text()
    assert opened.errors == []
    assert opened.outside_requests() == []
    page.screenshot(path=str(tmp_path / f"overview-review-{lang}.png"), full_page=True)
    page.close()


def test_overview_review_sections_without_javascript(browser: object, tmp_path: Path) -> None:
    path = _write(tmp_path / "overview.html", _reviewed_overview("en"))
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(path.as_uri())
    assert page.locator("#common-mistakes table.mistakes").first.is_visible()
    assert page.locator("#near-copies table.near-copies").is_visible()
    # <details> opens without script: every student can be reached.
    page.locator("table.mistakes details summary").first.click()
    assert page.locator("table.mistakes tbody tr").first.locator("td a:visible").count() == 16
    context.close()


def test_side_by_side_page_in_chromium(browser: object, tmp_path: Path) -> None:
    pair = samples.reviewed_class_results()["similarity"]["pairs"][0]
    html = render_near_copy(
        pair,
        samples.PAIR_SPANS,
        samples.PAIR_TEXTS,
        locale=Locale(TEMPLATES, "en"),
        templates=TEMPLATES,
        title="PyTorch autograd",
        report_href=lambda name: f"../{name}/report.html",
    )
    opened = Page(browser, _write(tmp_path / "pair.html", html))
    page = opened.page
    sides = page.locator(".side")
    assert sides.count() == 2
    assert sides.nth(0).is_visible() and sides.nth(1).is_visible()
    assert page.locator(".side").nth(0).locator("mark").count() == 2
    assert page.locator(".side").nth(1).locator("mark").count() == 2
    assert samples.HOSTILE in sides.nth(0).inner_text()
    assert page.locator("script").count() == 0
    assert page.locator(".note").is_visible()
    assert opened.errors == []
    assert opened.outside_requests() == []
    page.screenshot(path=str(tmp_path / "pair.png"), full_page=True)
    page.close()
