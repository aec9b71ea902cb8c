"""Render reports from hand-written results and check what a reader would see."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import report_samples as samples
import tomllib

from grader.render.locale import Locale
from grader.render.report import render_class_overview, render_student_report
from grader.score.results import written_student

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ESCAPED = html.escape(samples.HOSTILE, quote=False)


def report(student: dict, lang: str = "en", templates: Path = TEMPLATES) -> str:
    return render_student_report(
        student,
        seed=samples.SEED,
        locale=Locale(templates, lang),
        templates=templates,
        title="Autograd course",
    )


def overview(results: dict | None = None, lang: str = "en") -> str:
    return render_class_overview(
        results or samples.class_results(),
        locale=Locale(TEMPLATES, lang),
        templates=TEMPLATES,
        title="Autograd course",
        report_href=lambda name: f"{name}/report.html",
    )


class Tags(HTMLParser):
    """Collect start tags, and the <use> markers inside each SVG group with an id."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.markers: dict[str, int] = {}
        self._open: list[str | None] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "use":
            for group in filter(None, self._open):
                self.markers[group] = self.markers.get(group, 0) + 1
        elif tag == "g":
            self._open.append(dict(attrs).get("id"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "g":
            self._open.pop()

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def markers_of(self, suffix: str) -> int:
        (count,) = [n for group, n in self.markers.items() if group.endswith(suffix)]
        return count


def test_full_marks_shows_every_check_passed() -> None:
    page = report(samples.full_marks())
    assert 'id="total-score">10 <small>/ 10 points' in page
    assert page.count("✓ PASS") == 3
    assert "FAIL" not in page
    for name in ("test_history_length", "test_update_direction", "test_fit_recovers_line"):
        assert f"<code>{name}</code>" in page
    assert "each step moves x towards 0" in page
    assert "grade 06 --seed 12345" in page and "grade 07 --seed 12345" in page


def test_partly_wrong_shows_fail_hint_and_dropped_output() -> None:
    page = report(samples.partly_wrong())
    assert 'id="total-score">2 <small>/ 10 points' in page
    assert page.count("✗ FAIL") == 2
    assert "0 / 3" in page
    assert "the loss does not go down: did you clear the gradients each epoch?" in page
    assert "Output truncated: 4096 bytes dropped." in page
    assert "Your code printed nothing." in page


def test_crashed_shows_status_message_and_traceback() -> None:
    page = report(samples.crashed())
    for word in ("timed out", "error", "missing"):
        assert f">{word}</span>" in page
    assert "your file could not be loaded" in page
    assert "<strong>NameError</strong>: name &#39;toch&#39; is not defined" in page
    assert re.search(r'<pre class="traceback">\s*File &#34;exercise.py&#34;, line 3', page)
    assert "stopped after 30 s" in page
    assert "nothing handed in" in page


@pytest.mark.parametrize(
    ("page", "scripts"),
    [
        pytest.param(lambda: report(samples.partly_wrong()), 0, id="report"),
        pytest.param(lambda: report(samples.crashed()), 0, id="crashed"),
        pytest.param(lambda: report(samples.partly_wrong(), "zh"), 0, id="report-zh"),
        # The overview's one script is the grader's own sorting code.
        pytest.param(lambda: overview(), 1, id="overview"),
    ],
)
def test_hostile_strings_stay_text(page, scripts: int) -> None:
    text = page()
    assert samples.HOSTILE not in text
    assert ESCAPED in text
    assert len(Tags(text).named("script")) == scripts


def test_hostile_strings_escaped_where_they_were() -> None:
    page = report(samples.partly_wrong())
    assert f"<h1>Report for {ESCAPED}</h1>" in page
    assert f'<pre class="output">debug {ESCAPED}' in page
    assert f'<td class="hint">hint with {ESCAPED}</td>' in page
    crashed = report(samples.crashed())
    assert f"# {ESCAPED}" in crashed
    assert f"is not defined {ESCAPED}" in crashed


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_make_no_outside_reference(lang: str) -> None:
    for page in (report(samples.partly_wrong(), lang), overview(lang=lang)):
        assert not re.search(r"(?i)\b(https?|ftp):|//[a-z0-9.-]+\.[a-z]{2,}/", page)
        tags = Tags(page)
        assert not tags.named("link") and not tags.named("img") and not tags.named("iframe")
        assert all("src" not in attrs for attrs in tags.named("script"))


def test_descent_plot_holds_the_students_iterates() -> None:
    student = samples.partly_wrong()
    page = report(student)
    tags = Tags(page[: page.index('data-kind="panels"')])  # the descent's figure only
    iterates = len(student["exercises"][0]["plots"][0]["series"]["yours"])
    reference = len(student["exercises"][0]["plots"][0]["series"]["reference"])
    assert tags.markers_of("p0-yours") == iterates == 12
    assert tags.markers_of("p0-reference") == reference == 10
    labels = [a.get("aria-label") or "" for a in tags.named("svg")]
    # The title comes from the exercise's catalog, the words from ui.plots.
    assert any(
        label.startswith("Gradient descent on y = x²: ")
        and f"your code: {iterates} points (solid line)" in label
        for label in labels
    )
    assert re.search(r"<svg role=\"img\" aria-label=\"[^\"]+\"[^>]*><title>", page)


def test_fit_line_plot_draws_both_panels() -> None:
    page = report(samples.partly_wrong())
    assert '<figure class="plot" data-kind="panels"><svg' in page
    fit = page[page.index('data-kind="panels"') :]
    assert "data: 5 points" in fit
    assert "Loss per epoch (log scale)" in fit and "Data and fitted lines" in fit
    assert "your code: y = 1.6·x + 1.4" in fit and "reference: y = 2·x + 1" in fit
    tags = Tags(fit)
    assert tags.markers_of("p1-data") == 5


def test_svg_ids_are_unique_and_pages_deterministic() -> None:
    page = report(samples.partly_wrong())
    ids = [a["id"] for _, a in Tags(page).tags if a.get("id")]
    assert len(ids) == len(set(ids))
    assert report(samples.partly_wrong()) == page


def test_chinese_report() -> None:
    page = report(samples.crashed(), "zh")
    assert '<html lang="zh-Hans">' in page
    assert "carol 的评分报告" in page
    for word in ("超时", "出错", "未提交"):
        assert f">{word}</span>" in page
    partly = report(samples.partly_wrong(), "zh")
    assert "✗ 未通过" in partly and "✓ 通过" in partly
    assert "输出已截断：丢弃了 4096 字节。" in partly
    assert "在 y = x² 上的梯度下降：y = x²：67 个点；你的代码：12 个点（实线）" in partly


def test_hint_is_translated_from_its_id(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "locale" / "zh" / "06_minimize_square.toml").write_text(
        '[hints]\nwrong_sign = "步长方向反了：{detail}"\n', encoding="utf-8"
    )
    student = samples.partly_wrong()
    student["exercises"][0]["checks"][1]["hint"] = {
        "id": "wrong_sign",
        "params": {"detail": samples.HOSTILE},
    }
    # Written once, where the output is made; the report shows what was written.
    page = report(written_student(student, Locale(templates, "zh")), "zh", templates)
    assert f"步长方向反了：{ESCAPED}" in page
    # The English message stored in the results is still the fallback.
    assert "the loss does not go down" in page


def test_broken_plot_data_does_not_break_the_report() -> None:
    student = samples.full_marks()
    student["exercises"][0]["plots"] = [
        {"kind": "line", "series": {"yours": [["3", "9"]], "reference": []}},
        {"kind": "line", "series": {"yours": 5}},
        {"kind": "sparkles"},
    ]
    page = report(student)
    assert page.count("could not be drawn from the values your code returned") == 2
    assert "cannot draw plots of kind “sparkles”" in page


def test_unknown_status_is_shown_but_not_trusted() -> None:
    student = samples.full_marks()
    student["exercises"][0]["status"] = 'x" onmouseover="alert(1)'
    page = report(student)
    assert 'class="status unknown' in page
    assert 'onmouseover="alert' not in page


def test_overview_ranks_checks_hardest_first() -> None:
    page = overview()
    order = [
        page.index(f"<code>{name}</code>")
        for name in ("test_update_direction", "test_fit_recovers_line", "test_history_length")
    ]
    assert order == sorted(order)
    assert "1 / 2" in page and "50%" in page and "100%" in page


def test_overview_lists_students_with_links_and_scores() -> None:
    page = overview()
    assert '<a href="alice/report.html">alice</a>' in page
    assert f'<a href="%3Cscript%3Ealert%281%29%3C/script%3E/report.html">{ESCAPED}</a>' in page
    assert 'data-sort="10.0"><strong>10</strong> / 10' in page
    assert 'id="student-count">3<' in page
    assert "Histogram of the total scores of 3 students" in page


def test_overview_link_cannot_become_a_script_url() -> None:
    results = samples.class_results()
    results["students"][0]["student"] = "javascript:alert(1)"
    hrefs = [a["href"] for a in Tags(overview(results)).named("a")]
    assert "javascript%3Aalert%281%29/report.html" in hrefs
    assert not any((h or "").lower().startswith("javascript:") for h in hrefs)


def test_overview_script_is_pinned_by_its_hash() -> None:
    page = overview()
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert script
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert "script-src 'none'" in report(samples.full_marks())


def test_overview_of_an_empty_class() -> None:
    page = overview({"seed": 1, "students": []})
    assert "No students in these results." in page


def test_importing_the_report_does_not_import_matplotlib() -> None:
    code = "import sys, grader.render.report; print('matplotlib' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def _catalog_keys(lang: str) -> set[str]:
    def walk(table: dict, prefix: str) -> set[str]:
        keys: set[str] = set()
        for key, value in table.items():
            keys |= walk(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return keys

    with (TEMPLATES / "locale" / lang / "ui.toml").open("rb") as f:
        return walk(tomllib.load(f), "ui.")


def test_every_word_is_in_both_languages() -> None:
    assert _catalog_keys("en") == _catalog_keys("zh")
    used = set()
    for template in TEMPLATES.glob("*.html.j2"):
        used |= {"ui." + k for k in re.findall(r"\bt\([\"']([\w.]+)[\"']", template.read_text())}
    for module in ("report.py", "plots.py"):
        source = (TEMPLATES.parent / "grader" / "render" / module).read_text()
        used |= set(re.findall(r"[\"'](ui\.[\w.]+)[\"']", source))
    used |= {f"ui.status.{s}" for s in ("graded", "missing", "error", "timeout")}
    used |= {f"ui.plots.{k}" for k in ("yours", "reference", "data", "loss", "epoch")}
    used |= {f"ui.plots.look_{k}" for k in ("yours", "reference")}
    used |= {"ui.plots.series_look", "ui.plots.series_count", "ui.plots.panel_label"}
    assert used - _catalog_keys("en") == set()
    terminal = {"passed", "failed", "points", "score", "report_written", "seed"}
    assert {f"ui.terminal.{k}" for k in terminal} <= _catalog_keys("en")
