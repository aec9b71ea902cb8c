"""Messages a first week of a real class found unclear or wrong, each one as it now reads."""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
import report_samples
import tomllib
from fake_session import FakeChild

from grader.child.protocol import Chunk
from grader.judge.hints import CheckFailed
from grader.judge.submission import Submission, SubmissionBroken
from grader.render.locale import Locale
from grader.render.plots import histogram_edges
from grader.render.report import hint_markup, render_student_report
from grader.render.terminal import terminal_summary
from grader.review.gradebook import RosterError, gradebook_table, load_roster
from grader.run.children import Children
from grader.run.executors import Timeout
from grader.score.results import written_student

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CHUNKS = [Chunk("exercise.py", "def f():\n    return 1\n")]


def _hints(lang: str) -> dict[str, str]:
    with (TEMPLATES / "locale" / lang / "common.toml").open("rb") as f:
        return dict(tomllib.load(f)["hints"])


# -- hints -------------------------------------------------------------------------------
def test_a_load_that_runs_out_of_time_says_so_not_while_running_loading() -> None:
    submission = Submission(Children(FakeChild(load=Timeout()).start, timeout=10), CHUNKS)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert (info.value.status, info.value.failure.hint) == ("timeout", "timeout_at_load")
    text = Locale(TEMPLATES).hint("05_grad_accumulation", "timeout_at_load", {"timeout": "10"})
    assert "(loading)" not in text and "10 s time limit" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hints_speak_of_code_not_of_a_file_a_notebook_does_not_have(lang: str) -> None:
    file_word = {"en": "your file", "zh": "你的文件"}[lang]
    assert not [h for h, text in _hints(lang).items() if file_word in text]


def test_the_syntax_error_hint_fits_watch_too() -> None:
    text = _hints("en")["syntax_error"]
    assert "run grade again" not in text and "--watch" in text


def test_backticks_in_a_hint_show_as_code_and_what_is_inside_stays_text() -> None:
    html = str(hint_markup("call `x.grad.zero_()`; got `<script>alert(1)</script>` & more"))
    assert "<code>x.grad.zero_()</code>" in html
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in html
    assert "&amp; more" in html and "<script>" not in html


def test_a_reports_hints_show_their_code_spans_as_code() -> None:
    student = report_samples.partly_wrong()
    check = student["exercises"][0]["checks"][-1]
    hint = {"id": "not_implemented", "params": {"function": "minimize_square"}}
    check.update(passed=False, score=0.0, message="", hint=hint)
    locale = Locale(TEMPLATES, "en")
    page = render_student_report(
        written_student(student, locale),
        seed=1,
        locale=locale,
        templates=TEMPLATES,
        title="Autograd course",
    )
    assert "<code>minimize_square</code> still raises NotImplementedError" in page
    assert "`minimize_square`" not in page  # the catalog's backticks are not shown as such


# -- --lang zh ---------------------------------------------------------------------------
def _one_exercise_results() -> dict[str, Any]:
    exercise = report_samples.full_marks()["exercises"][0]
    exercise.update(exercise="05_grad_accumulation", title="05 · Gradients accumulate")
    student = {"student": "ann", "score": 5.0, "max_score": 5.0, "exercises": [exercise]}
    return {"seed": 1, "students": [student]}


def test_zh_translates_total_course_title_and_exercise_titles() -> None:
    results = _one_exercise_results()
    summary = terminal_summary(results, Locale(TEMPLATES, "zh"), single=False)
    assert "总分" in summary and "total" not in summary
    page = render_student_report(
        results["students"][0],
        seed=1,
        locale=Locale(TEMPLATES, "zh"),
        templates=TEMPLATES,
        title="PyTorch autograd: gradients and grad-mode control",
    )
    assert "PyTorch 自动求导" in page and "grad-mode control" not in page
    assert "梯度会累积" in page and "Gradients accumulate" not in page


def test_a_course_of_another_title_keeps_its_own() -> None:
    page = render_student_report(
        _one_exercise_results()["students"][0],
        seed=1,
        locale=Locale(TEMPLATES, "zh"),
        templates=TEMPLATES,
        title="Another course",
    )
    assert "Another course" in page


# -- the class overview and the gradebook ------------------------------------------------
@pytest.mark.parametrize("top", [7.0, 10.0, 35.0, 70.0, 100.0, 130.0])
def test_histogram_ticks_sit_on_bin_edges(top: float) -> None:
    edges, ticks = histogram_edges(top)
    width = edges[1] - edges[0]
    assert width in {1.0, 2.0, 5.0, 10.0, 20.0, 50.0}
    assert set(ticks) <= set(edges) and edges[-1] >= top and len(edges) <= 21
    assert histogram_edges(70.0)[0][1] == 5.0  # was 7: bins of a tenth of 70


def test_gradebook_headers_give_the_number_once(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,Student,ID\nann,Ann,1\n", encoding="utf-8")
    results = _one_exercise_results()
    table, _ = gradebook_table(results, load_roster(roster, "canvas"))
    assert table[0][-1] == "05 Gradients accumulate"


def test_a_roster_error_lists_the_headers_as_written(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("Folder,Student Name,SIS User ID\nann,Ann,u1\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        load_roster(roster, "canvas")
    assert "missing column(s) ID for canvas" in str(caught.value)
    assert "(it has Folder, Student Name, SIS User ID)" in str(caught.value)


# -- check() in Jupyter, and the benchmarks ----------------------------------------------
def test_check_outside_the_course_does_not_suggest_a_course_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.notebook import check

    shell = types.SimpleNamespace(history_manager=types.SimpleNamespace(input_hist_raw=[""]))
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.chdir(tmp_path)
    result = check("03")
    assert result is not None
    assert "--course" not in result.problem
    assert "Start Jupyter from the course folder" in result.problem


def test_bench_batch_growth_over_one_size_says_it_needs_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_batch", ROOT / "benchmarks" / "bench_batch.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "make_class", lambda *args: None)
    # A role seen at 0 KiB (ended before it was read) divided the growth by zero.
    monkeypatch.setattr(bench, "batch", lambda *args: (1.0, None, {"worker": 0, "batch": 90_000}))
    bench.growth_table(tmp_path, [100], [2])
    assert "needs two class sizes" in capsys.readouterr().out


# -- a sign of life ----------------------------------------------------------------------
def test_a_slow_call_is_told_with_its_function_and_when_it_is_stopped() -> None:
    child = FakeChild(script={"slow": [1]})
    told: list[tuple[str, int]] = []

    class Quick(Children):
        SLOW = 0.05

    def start() -> object:
        session = child.start()
        answer = session.request

        def slow(message: dict[str, Any]) -> dict[str, Any]:
            if message["op"] == "call":
                time.sleep(0.5)
            return answer(message)

        session.request = slow  # type: ignore[method-assign]
        return session

    quick = Quick(start, timeout=10, waiting=lambda f, s: told.append((f, round(s))))
    submission = Submission(quick, CHUNKS)
    submission.call("slow", repeat=False)
    assert told == [("slow", 5)]  # the load was quick: nothing said of it


def test_a_long_call_has_its_replacement_started_before_it_is_stopped() -> None:
    child = FakeChild(script={"fast": [1]})
    started: list[float] = []
    stopped: list[float] = []

    class Quick(Children):
        SLOW = 0.05

    def start() -> object:
        started.append(time.monotonic())
        session = child.start()
        answer = session.request

        def loops(message: dict[str, Any]) -> dict[str, Any]:
            if message["op"] == "call" and message["function"] == "loops":
                time.sleep(1.0)  # then its share runs out
                stopped.append(time.monotonic())
                raise Timeout()
            return answer(message)

        session.request = loops  # type: ignore[method-assign]
        return session

    submission = Submission(Quick(start, timeout=10), CHUNKS)
    with pytest.raises(CheckFailed):
        submission.call("loops")
    assert submission.call("fast").returned() == 1
    # Two children in all: the spare, started while the loop ran, replaced the first.
    assert len(started) == 2 and started[1] < stopped[0]
    submission.close()
    assert all(session.closed for session in child.sessions)
