"""Where `grade` writes, and who is blamed when it cannot: the user's paths are not grader bugs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SUBMISSIONS, Run

EX01 = SUBMISSIONS / "01_leaf_tensors"
RunGrade = Callable[..., Run]
CourseCopy = Callable[..., Path]


def _unwritable_reports(course: Path, how: str) -> None:
    reports = course / "reports"
    if how == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder all the same")
        reports.mkdir()
        reports.chmod(0o555)
    else:
        reports.write_text("not a folder\n", encoding="utf-8")  # root cannot write in it either


@pytest.mark.parametrize("how", ["read-only", "a file in its place"])
def test_an_unwritable_reports_folder_keeps_the_grade_and_says_where_to_point_html(
    run_grade: RunGrade, course_copy: CourseCopy, how: str
) -> None:
    course = course_copy(EX01 / "passes_all.py")
    _unwritable_reports(course, how)
    try:
        run = run_grade("01", cwd=course, html=False)
    finally:
        if (course / "reports").is_dir():
            (course / "reports").chmod(0o755)
    assert run.code == 0, run.stderr  # full marks: the grade's own status
    assert "total" in run.stdout and "10/10" in run.stdout
    (line,) = run.stderr.strip().splitlines()
    assert "the report could not be written to" in line and "--html" in line
    assert "grader itself failed" not in line and "bug report" not in line


def test_html_into_a_folder_that_cannot_be_made_keeps_the_grade(
    run_grade: RunGrade, tmp_path: Path
) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should be\n", encoding="utf-8")
    run = run_grade(
        EX01 / "forgot_requires_grad.py", "--exercise", "01", "--html", blocker / "r.html",
        html=False,
    )  # fmt: skip
    assert run.code == 1, run.stderr  # not full marks, as graded
    (line,) = run.stderr.strip().splitlines()
    assert f"could not be written to {blocker / 'r.html'}" in line


@pytest.mark.parametrize("option", ["--json", "--junit", "--gradescope"])
def test_an_export_into_a_missing_folder_is_a_usage_error_before_grading(
    run_grade: RunGrade, tmp_path: Path, option: str
) -> None:
    target = tmp_path / "no_such_folder" / "out.file"
    run = run_grade(EX01 / "passes_all.py", "--exercise", "01", option, target)
    assert run.code == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"grade: error: {option} {target}: the folder")
    assert "does not exist" in line
    assert "total" not in run.stdout  # refused before grading: nothing was spent
    assert not target.parent.exists()


def test_a_file_kept_elsewhere_does_not_overwrite_the_students_own_report(
    run_grade: RunGrade, course_copy: CourseCopy, tmp_path: Path
) -> None:
    course = course_copy()
    own = course / "reports" / "01_leaf_tensors.html"
    own.parent.mkdir()
    own.write_text("the student's own report\n", encoding="utf-8")
    elsewhere = tmp_path / "attempt.py"
    shutil.copy(EX01 / "passes_all.py", elsewhere)
    run = run_grade(elsewhere, "--exercise", "01", cwd=course, html=False)
    assert run.code == 0, run.stderr
    assert own.read_text(encoding="utf-8") == "the student's own report\n"
    apart = course / "reports" / "01_leaf_tensors-attempt.html"
    assert apart.is_file() and f"report written to {apart}" in run.stdout


def test_with_both_files_the_summary_names_the_one_graded(
    run_grade: RunGrade, course_copy: CourseCopy, tmp_path: Path
) -> None:
    course = course_copy(EX01 / "passes_all.py")
    folder = course / "exercises" / "01_leaf_tensors"
    shutil.copy(EX01 / "passes_all.ipynb", folder / "exercise.ipynb")
    os.utime(folder / "exercise.py", (1_000_000_000, 1_000_000_000))  # the notebook is newer
    run = run_grade("01", cwd=course)
    assert (
        "grading exercises/01_leaf_tensors/exercise.ipynb, the newer of exercise.ipynb and "
        "exercise.py (save exercise.py to grade it instead)"
    ) in run.stdout
