"""The `grade` command as a first week of students typed it: each message says what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import COURSE, SUBMISSIONS, Run, only_exercise

EX01 = SUBMISSIONS / "01_leaf_tensors"
RunGrade = Callable[..., Run]
CourseCopy = Callable[..., Path]


def test_a_usage_error_names_the_command_the_student_typed(run_grade: RunGrade) -> None:
    run = run_grade("03", "--bogus")
    assert run.code == 2
    assert "Usage: grade [OPTIONS] [TARGET]" in run.stderr
    assert "grade exercise" not in run.stderr  # the implied command, never shown


@pytest.mark.parametrize("target", [".", "exercise.py"])
def test_grade_inside_an_exercise_folder_knows_the_exercise(
    run_grade: RunGrade, course_copy: CourseCopy, tmp_path: Path, target: str
) -> None:
    course = course_copy(EX01 / "passes_all.py")
    folder = course / "exercises" / "01_leaf_tensors"
    run = run_grade(target, "--json", tmp_path / "r.json", cwd=folder)
    assert run.code == 0, run.stderr
    exercise = only_exercise(tmp_path / "r.json")
    assert exercise["exercise"] == "01_leaf_tensors" and exercise["score"] == 10


def test_an_empty_file_is_told_it_is_empty_once(run_grade: RunGrade, tmp_path: Path) -> None:
    empty = tmp_path / "exercise.py"
    empty.write_text("# my answers\n\n", encoding="utf-8")
    run = run_grade(empty, "--exercise", "01", "--json", tmp_path / "r.json", cwd=COURSE)
    assert run.code == 1
    exercise = only_exercise(tmp_path / "r.json")
    assert exercise["status"] == "error" and exercise["hint"]["id"] == "empty_file"
    assert "holds no code" in exercise["message"]
    assert "is not defined" not in run.stdout
