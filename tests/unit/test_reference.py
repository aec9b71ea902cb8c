"""A check that crashed is charged to the student only when the reference solution passes it."""

from __future__ import annotations

from pathlib import Path

from grader.judge.checks import CheckOutcome
from grader.judge.reference import charged, passed_by_reference


def _crashed(name: str, function: str = "") -> CheckOutcome:
    params = {"message": "IndexError: list index out of range"}
    if function:
        params["function"] = function
    return CheckOutcome(name, name, False, 1.0, hint="check_error", params=params)


def test_a_crash_the_reference_does_not_make_is_the_students() -> None:
    out = charged([_crashed("test_a", "f"), _crashed("test_b", "f")], frozenset({"test_a"}))
    assert (out[0].hint, out[0].params["function"]) == ("check_cannot_judge", "f")
    assert out[1].hint == "check_error"  # the reference fails it too


def test_a_crash_before_any_answer_stays_the_checks() -> None:
    (out,) = charged([_crashed("test_a")], frozenset({"test_a"}))
    assert out.hint == "check_error"


def test_the_reference_is_graded_once_per_exercise_and_seed(tmp_path: Path) -> None:
    solution, checks = tmp_path / "solution.py", tmp_path / "checks"
    solution.write_text("def f(): return 1\n", encoding="utf-8")
    checks.mkdir()
    graded: list[int] = []

    def grade() -> list[CheckOutcome]:
        graded.append(1)
        return [CheckOutcome("test_a", "a", True, 1.0), _crashed("test_b", "f")]

    for _ in range(3):
        assert passed_by_reference(solution, checks, "v1", 5, grade) == {"test_a"}
    assert len(graded) == 1
    passed_by_reference(solution, checks, "v1", 6, grade)  # another seed: other inputs
    assert len(graded) == 2


def test_no_reference_charges_nothing(tmp_path: Path) -> None:
    def grade() -> list[CheckOutcome]:
        raise AssertionError("nothing to grade")

    assert passed_by_reference(tmp_path / "missing.py", tmp_path, "v1", 5, grade) == frozenset()
