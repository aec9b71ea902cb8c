"""The judge collects an exercise's checks once per process and runs them for each submission."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.judge.checks import JudgeError, judge
from grader.judge.submission import Submission
from grader.run.children import Children
from grader.run.executors import Limits
from grader.run.executors.in_process import InProcessExecutor

CHECKS = '''
from grader.check import fail, points

SEEN = []


@points(2)
def test_counts(submission, rng, plots):
    """counts the runs"""
    SEEN.append(rng.random())
    plots.append({"run": len(SEEN)})


def test_fails_with_a_hint(submission, rng):
    fail("some_hint", n=3)


def test_breaks(submission, rng):
    raise KeyError("oops")
'''


def _submission() -> Submission:
    return Submission(
        Children(lambda: InProcessExecutor().start(Limits(), time.monotonic() + 60), timeout=60), []
    )


def _checks(tmp_path: Path, text: str, name: str) -> Path:
    folder = tmp_path / "checks" / name
    folder.mkdir(parents=True)
    (folder / f"test_{name}.py").write_text(text, encoding="utf-8")
    return folder


def test_each_submission_gets_fresh_fixtures_and_the_same_verdicts(tmp_path: Path) -> None:
    folder = _checks(tmp_path, CHECKS, "x01_runs")
    first = judge(folder, _submission(), seed=7)
    second = judge(folder, _submission(), seed=7)
    assert [(c.name, c.passed, c.hint, c.max_score) for c in first.checks] == [
        ("test_counts", True, "", 2.0),
        ("test_fails_with_a_hint", False, "some_hint", 1.0),
        ("test_breaks", False, "check_error", 1.0),
    ]
    assert first.checks == second.checks
    assert first.checks[0].title == "counts the runs"
    assert first.checks[2].params == {"message": "KeyError: 'oops'"}
    # A plots list per submission, not one that grows across the class.
    assert first.plots == [{"run": 1}]
    assert second.plots == [{"run": 2}]


def test_the_rng_stream_depends_on_the_seed_only(tmp_path: Path) -> None:
    import importlib

    folder = _checks(tmp_path, CHECKS, "x02_seeds")
    judge(folder, _submission(), seed=1)
    judge(folder, _submission(), seed=2)
    judge(folder, _submission(), seed=1)
    seen = importlib.import_module("x02_seeds.test_x02_seeds").SEEN
    assert seen[0] == seen[2] != seen[1]


@pytest.mark.parametrize(
    "text",
    ["def test_broken(:\n    pass\n", "# no checks here\n"],
    ids=["syntax_error", "no_checks"],
)
def test_a_broken_course_is_the_judges_error(tmp_path: Path, text: str) -> None:
    folder = _checks(tmp_path, text, "x03_broken")
    with pytest.raises(JudgeError, match="could not run"):
        judge(folder, _submission(), seed=1)


def test_a_check_whose_fixture_fails_is_a_bug_in_the_check(tmp_path: Path) -> None:
    folder = _checks(tmp_path, "def test_needs(no_such_fixture):\n    pass\n", "x04_fixture")
    with pytest.raises(JudgeError, match="failed before it ran"):
        judge(folder, _submission(), seed=1)


def test_checks_edited_in_a_running_process_are_collected_again(tmp_path: Path) -> None:
    # A warm cluster worker outlives a batch; the instructor fixes a check between two.
    folder = _checks(tmp_path, "def test_one(submission):\n    pass\n", "x05_edited")
    assert [c.name for c in judge(folder, _submission(), seed=1).checks] == ["test_one"]
    (folder / "test_x05_edited.py").write_text(
        "from grader.check import fail\n\n\ndef test_one(submission):\n    fail('now_fails')\n",
        encoding="utf-8",
    )
    (verdict,) = judge(folder, _submission(), seed=1).checks
    assert (verdict.name, verdict.passed, verdict.hint) == ("test_one", False, "now_fails")


def test_judging_failed_checks_parses_no_source(tmp_path: Path, monkeypatch) -> None:
    # Exercises are judged side by side on threads, and Python 3.11's AST converter
    # is not thread-safe: a failed check must not print a traceback with source
    # excerpts (pytest's own report does, through ast.parse).
    import ast

    folder = _checks(tmp_path, CHECKS, "x06_no_parse")
    judge(folder, _submission(), seed=1)  # collected (and assertions rewritten) first

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("source parsed while judging")

    monkeypatch.setattr(ast, "parse", refuse)
    verdict = judge(folder, _submission(), seed=1)
    assert [(c.passed, c.hint) for c in verdict.checks] == [
        (True, ""),
        (False, "some_hint"),
        (False, "check_error"),
    ]


ASSERTS = """
import pytest

from grader.check import hint


class Thing:
    pass


def test_plain_assert(submission, rng):
    got = [1.0, 2.0]
    assert got == [1.0, 3.0]


def test_assert_naming_a_hint(submission, rng):
    assert 2.0 == pytest.approx(3.0), hint("cube_wrong", x0=2.0)


def test_assert_on_an_object(submission, rng):
    assert Thing() is None


def test_breaks(submission, rng):
    values = []
    return values[1]
"""


def test_a_plain_assert_is_a_failed_check_showing_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The account reads the same on a CI machine (pytest itself shows more there).
    monkeypatch.setenv("CI", "true")
    folder = _checks(tmp_path, ASSERTS, "x07_asserts")
    plain, named, thing, broken = judge(folder, _submission(), seed=1).checks
    assert (plain.passed, plain.hint) == (False, "assertion_failed")
    assert plain.params["assertion"] == (
        "assert [1.0, 2.0] == [1.0, 3.0]\n  At index 1 diff: 2.0 != 3.0"
    )
    # The hint the assert names, with pytest's account of the comparison besides.
    assert (named.hint, named.params["x0"]) == ("cube_wrong", 2.0)
    assert "Obtained: 2.0" in named.params["assertion"]
    # No memory address: the same submission must get the same message every time.
    assert "0x" not in thing.params["assertion"] and "Thing object" in thing.params["assertion"]
    assert judge(folder, _submission(), seed=1).checks[2] == thing
    # Only a real exception is a crash of the checks.
    assert (broken.hint, broken.params) == (
        "check_error",
        {"message": "IndexError: list index out of range"},
    )


def test_a_crashed_check_keeps_its_traceback_for_the_author(tmp_path: Path) -> None:
    from grader.judge import crashes

    folder = _checks(tmp_path, ASSERTS, "x08_crash")
    judge(folder, _submission(), seed=1)
    line = ASSERTS.splitlines().index("    return values[1]") + 1
    where = f"checks/x08_crash/test_x08_crash.py:{line} in test_breaks"
    assert crashes.where(folder, "test_breaks") == where
    text = crashes.kept(folder, "test_breaks")
    assert text.startswith("Traceback (most recent call last):\n  File ")
    assert "return values[1]" in text and text.endswith("IndexError: list index out of range\n")
    # From the check's own frame on: none of pytest's.
    assert "_pytest" not in text and "pluggy" not in text
    assert crashes.where(folder, "test_plain_assert") == ""
    kept = Path(crashes.write_kept([(folder, "test_breaks"), (folder, "test_plain_assert")]))
    try:
        assert kept.read_text(encoding="utf-8") == f"test_breaks:\n{text}"
    finally:
        kept.unlink()


def test_a_parametrized_check_is_titled_with_its_parameter(tmp_path: Path) -> None:
    from grader.render.locale import Locale

    text = (
        "import pytest\n\n\n"
        '@pytest.mark.parametrize("x0", [0.5, 3.0])\n'
        "def test_at(submission, x0):\n"
        '    """the derivative at x0"""\n'
    )
    folder = _checks(tmp_path, text, "x09_params")
    checks = judge(folder, _submission(), seed=1).checks
    assert [(c.name, c.title) for c in checks] == [
        ("test_at[0.5]", "the derivative at x0 [0.5]"),
        ("test_at[3.0]", "the derivative at x0 [3.0]"),
    ]
    zh = tmp_path / "templates" / "locale" / "zh"
    zh.mkdir(parents=True)
    (zh / "x09_params.toml").write_text('[titles]\ntest_at = "x0 处的导数"\n', encoding="utf-8")
    locale = Locale(tmp_path / "templates", "zh")
    assert locale.title("x09_params", "test_at[3.0]", checks[1].title) == "x0 处的导数 [3.0]"
