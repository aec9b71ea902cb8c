"""Reading a course's checks and catalogs finds the slips grading would show late or never."""

from __future__ import annotations

from pathlib import Path

from grader.authoring.lint import lint
from grader.course.find import Course

REPO = Path(__file__).resolve().parents[2]

CHECKS = """
from grader.check import expect_autograd, fail

_VARIANTS = (("fit_not_zeroed", {"zero": False}), ("fit_sum", {"reduce": "sum"}))


def diagnose(params):
    for hint, variant in _VARIANTS:
        fail(hint, **params)


def test_fit(submission, rng):
    params = {"lr": 0.1}
    fail("fit_wrong", **params)


def test_autograd(submission, rng):
    expect_autograd(submission.call("f"), 0, [1.0])
"""

EN = """
[hints]
fit_not_zeroed = "not zeroed at lr={lr}"
fit_wrong = "wrong at lr={lr} after {epochs} epochs"
"""


def _course(tmp_path: Path) -> Course:
    (tmp_path / "course.toml").write_text('title = "t"\n')
    for folder in ("exercises/01_fit", "checks/01_fit", "templates/locale/en"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "checks/01_fit/test_fit.py").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "templates/locale/en/01_fit.toml").write_text(EN, encoding="utf-8")
    return Course.load(tmp_path)


def test_the_course_itself_reads_clean() -> None:
    assert lint(Course.load(REPO)) == []


def test_hint_ids_are_read_from_loops_spreads_and_helpers(tmp_path: Path) -> None:
    checks = "checks/01_fit/test_fit.py"
    assert lint(_course(tmp_path)) == [
        # A loop over a module constant: each of its hint ids.
        f"{checks}:9: hint 'fit_sum' is in no en catalog (add it to the [hints] of "
        "templates/locale/en/01_fit.toml)",
        # A spread dict bound in the check: its keys are what the hint gets.
        "templates/locale/en/01_fit.toml: hint fit_wrong uses {epochs}, which "
        f"{checks}:14 never passes",
        # expect_autograd's own verdicts need the exercise's words.
        f"{checks}:18: hint 'uses_autograd' is in no en catalog (add it to the [hints] of "
        "templates/locale/en/01_fit.toml)",
        f"{checks}:18: hint 'no_backward' is in no en catalog (add it to the [hints] of "
        "templates/locale/en/01_fit.toml)",
    ]
