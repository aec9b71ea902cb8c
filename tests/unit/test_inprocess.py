"""Exercise 01's hidden checks, judged with the in-process executor (no sandbox, no child)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from grader.course.find import Course, Exercise
from grader.engine.exercise import Settings, grade_exercise
from grader.judge.checks import max_score
from grader.render.locale import Locale
from grader.run.executors.in_process import InProcessExecutor
from grader.score.results import with_messages

# Every grade here runs the submission in this process, with torch.
pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def course() -> Course:
    return Course.load(REPO)


@pytest.fixture(scope="module")
def exercise(course: Course) -> Exercise:
    return course.exercise("01")


def grade(course: Course, exercise: Exercise, path: Path) -> dict[str, Any]:
    """Grade in this process; the record's texts written in English, as an output would."""
    result = grade_exercise(course, exercise, path, InProcessExecutor(), Settings(seed=1))
    assert "message" not in result, "a record holds hint ids, never text"
    return with_messages(dict(result), Locale(course.templates))


def test_reference_solution_passes_every_check(course: Course, exercise: Exercise) -> None:
    result = grade(course, exercise, exercise.solution)
    assert result["status"] == "graded", result["message"]
    assert result["message"] == ""
    assert result["error"] is None
    assert result["checks"], "exercise 01 has checks"
    failed = [(c["name"], c["message"]) for c in result["checks"] if not c["passed"]]
    assert failed == []
    assert all(c["hint"] is None and c["message"] == "" for c in result["checks"])
    assert result["score"] == result["max_score"] == max_score(exercise.checks)
    assert result["source"] == "solution.py"
    assert len(result["digest"]) == 64


def test_reference_solution_passes_for_other_seeds(course: Course, exercise: Exercise) -> None:
    for seed in (2, 12345):
        result = grade_exercise(
            course,
            exercise,
            exercise.solution,
            InProcessExecutor(),
            Settings(seed=seed),
        )
        assert result["score"] == max_score(exercise.checks), (seed, result["checks"])


def test_stub_scores_zero_with_not_implemented(course: Course, exercise: Exercise) -> None:
    result = grade(course, exercise, exercise.folder / "exercise.py")
    assert result["status"] == "graded"
    assert result["score"] == 0.0
    assert {c["hint"]["id"] for c in result["checks"]} == {"not_implemented"}
    assert all(c["message"] for c in result["checks"])


def caught_by(mistake: Path) -> str:
    """Read the ``# caught-by:`` line of a mistake's opening comment."""
    for line in mistake.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := re.match(r"#\s*caught-by\s*:\s*(\S+)", line):
            return match.group(1)
    raise AssertionError(f"{mistake} has no caught-by header")


def _mistakes() -> list[Path]:
    return Course.load(REPO).exercise("01").mistakes


@pytest.mark.parametrize("mistake", _mistakes(), ids=lambda p: p.stem)
def test_each_mistake_fails_the_check_that_should_catch_it(
    course: Course, exercise: Exercise, mistake: Path
) -> None:
    check = caught_by(mistake)
    result = grade(course, exercise, mistake)
    assert result["status"] == "graded", result["message"]
    checks = {c["name"]: c for c in result["checks"]}
    assert not checks[check]["passed"]
    assert checks[check]["message"], "a failed check explains itself"
    assert result["score"] < result["max_score"]


def test_missing_file_is_recorded_missing(course: Course, exercise: Exercise) -> None:
    result = grade_exercise(course, exercise, None, InProcessExecutor(), Settings(seed=1))
    assert result["status"] == "missing"
    assert result["score"] == 0.0
    assert result["max_score"] == max_score(exercise.checks)
    assert result["checks"] == []


@pytest.mark.parametrize(
    ("returned", "kept_in_grad"),
    [
        ("torch.eye(3).to_sparse()", False),
        ("torch.empty(3, device='meta')", False),
        ("torch.ones(3)", True),
    ],
    ids=["sparse", "meta", "sparse_grad_left_in_the_argument"],
)
def test_a_tensor_without_readable_numbers_is_named_not_blamed_on_the_student(
    course: Course, tmp_path: Path, returned: str, kept_in_grad: bool
) -> None:
    # Reading such a value raised in the grader's own code: the hint said the student's
    # function "raised RuntimeError at line ?" or "still raises NotImplementedError".
    exercise = course.exercise("04")
    leave = "    x.grad = torch.zeros_like(x).to_sparse()\n" if kept_in_grad else ""
    path = tmp_path / "exercise.py"
    path.write_text(
        "import torch\n\n\ndef square_no_grad(x):\n" + leave + f"    return {returned}\n",
        encoding="utf-8",
    )
    result = grade(course, exercise, path)
    failed = [c for c in result["checks"] if c["name"].startswith("test_square_no_grad")]
    assert failed and all(not c["passed"] for c in failed)
    hints = {c["hint"]["id"] for c in failed}
    assert hints == {"unreadable_value"}, [c["message"] for c in failed]
    assert "returned something whose numbers cannot be read" in failed[0]["message"]
