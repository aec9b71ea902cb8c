"""The student's ``grade`` command, end to end, on fixture submissions named by their result."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import EXERCISE_KEYS, SUBMISSIONS, failed_messages, only_exercise, results

EX01 = SUBMISSIONS / "01_leaf_tensors"
FULL = 10.0


def grade_file(run_grade, tmp_path: Path, name: str, *extra: str, timeout: float = 120):
    """Grade fixture ``name`` of exercise 01 and return (run, the exercise's results)."""
    source = name if isinstance(name, Path) else EX01 / name
    run = run_grade(
        source, "--exercise", "01", "--json", tmp_path / "r.json", *extra, timeout=timeout
    )
    return run, only_exercise(tmp_path / "r.json")


def total_line(stdout: str) -> str:
    """Return the summary's total line with its spacing normalised: ``total 7/10``."""
    (line,) = [line for line in stdout.splitlines() if line.startswith("total")]
    return " ".join(line.split())


# -- full marks ---------------------------------------------------------------
def test_passes_all_gets_full_marks_and_exit_0(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "passes_all.py")
    assert run.code == 0, run.stdout + run.stderr
    assert ex["status"] == "graded"
    assert ex["score"] == ex["max_score"] == FULL
    assert all(c["passed"] and c["message"] == "" for c in ex["checks"])
    assert ex["error"] is None
    assert total_line(run.stdout) == "total 10/10"
    assert "--seed 1" in run.stdout  # the seed is printed so the run can be repeated
    assert results(tmp_path / "r.json")["seed"] == 1


def test_passes_all_with_grad_off_at_import_gets_full_marks(run_grade, tmp_path):
    # The judge's non-leaf argument of leaf_flags came out a leaf: 9/10 for correct code.
    run, ex = grade_file(run_grade, tmp_path, "passes_all_with_grad_off_at_import.py")
    assert ex["score"] == FULL, failed_messages(ex)


def test_html_report_is_written_where_asked(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "passes_all.py")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"report written to {tmp_path / 'r.html'}" in run.stdout
    assert page.lstrip().lower().startswith("<!doctype html")
    assert ex["title"] in page
    for check in ex["checks"]:
        assert check["title"].replace("'", "&#39;") in page or check["title"] in page


def test_notebook_with_magics_shell_lines_and_markdown_passes(run_grade, tmp_path):
    text = (EX01 / "passes_all.ipynb").read_text(encoding="utf-8")
    assert "%matplotlib inline" in text and "!pip list" in text and '"markdown"' in text
    run, ex = grade_file(run_grade, tmp_path, "passes_all.ipynb")
    assert run.code == 0, failed_messages(ex)
    assert ex["score"] == FULL


def test_notebook_that_shows_values_with_display_passes(run_grade, tmp_path):
    # `display` is a kernel's builtin: outside one it was a NameError, and a zero.
    run, ex = grade_file(run_grade, tmp_path, "passes_all_showing_values_with_display.ipynb")
    assert ex["score"] == FULL, failed_messages(ex)
    assert "tensor([1., 2., 3.], requires_grad=True)\nTrue" in ex["output"]


@pytest.mark.parametrize(
    "target", ["exercises/01", "exercises/01_leaf_tensors", "01", "exercises/01_leaf_tensors/"]
)
def test_every_way_to_name_the_exercise_grades_the_students_file(
    run_grade, course_copy, tmp_path, target
):
    course = course_copy(EX01 / "passes_all.py")
    run = run_grade(target, "--json", tmp_path / "r.json", cwd=course)
    assert run.code == 0, run.stdout + run.stderr
    ex = only_exercise(tmp_path / "r.json")
    assert ex["exercise"] == "01_leaf_tensors"
    assert ex["source"] == "exercises/01_leaf_tensors/exercise.py"
    assert ex["score"] == FULL


def test_exercise_folder_with_a_notebook_is_graded(run_grade, course_copy, tmp_path):
    course = course_copy(EX01 / "passes_all.ipynb", name="exercise.ipynb")
    run = run_grade("01", "--json", tmp_path / "r.json", cwd=course)
    ex = only_exercise(tmp_path / "r.json")
    assert run.code == 0, failed_messages(ex)
    assert ex["source"] == "exercises/01_leaf_tensors/exercise.ipynb"


def test_the_untouched_stub_scores_zero_with_not_implemented_hints(run_grade, tmp_path):
    run = run_grade("01", "--json", tmp_path / "r.json")
    ex = only_exercise(tmp_path / "r.json")
    assert run.code == 1
    assert ex["status"] == "graded" and ex["score"] == 0 and ex["max_score"] == FULL
    assert all(c["hint"]["id"] == "not_implemented" for c in ex["checks"])
    assert "NotImplementedError" in run.stdout


# -- partial marks and broken submissions ---------------------------------------
def test_one_mistake_costs_only_its_checks(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "forgot_requires_grad.py")
    assert run.code == 1
    assert ex["status"] == "graded"
    assert 0 < ex["score"] < ex["max_score"]
    failed = [c for c in ex["checks"] if not c["passed"]]
    assert failed and all(c["name"].startswith("test_make_leaf") for c in failed)
    assert all(c["message"] and c["hint"]["id"] for c in failed)
    assert "FAIL" in run.stdout and "PASS" in run.stdout
    assert total_line(run.stdout) == f"total {ex['score']:g}/10"


def test_syntax_error_names_the_line(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "syntax_error.py")
    assert run.code == 1
    assert ex["status"] == "error" and ex["score"] == 0
    assert ex["error"]["kind"] == "syntax"
    assert re.search(r"\bline 7\b", ex["error"]["summary"]), ex["error"]["summary"]
    assert "line 7" in run.stdout


def test_missing_function_is_named_and_the_others_still_score(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "missing_function.py")
    assert run.code == 1
    assert ex["status"] == "graded"
    failed = [c for c in ex["checks"] if not c["passed"]]
    assert failed and all(c["hint"]["id"] == "missing_function" for c in failed)
    assert all("square_and_sum" in c["message"] for c in failed)
    assert all(c["passed"] for c in ex["checks"] if "square_and_sum" not in c["name"])
    assert "square_and_sum" in run.stdout


def test_wrong_return_type_says_what_was_expected(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "returns_list_not_tensor.py")
    assert run.code == 1
    failed = [c for c in ex["checks"] if not c["passed"]]
    assert failed and all(c["hint"]["id"] == "not_a_tensor" for c in failed)
    assert all("Tensor" in c["message"] and "list" in c["message"] for c in failed)


def test_crash_at_import_names_the_error_and_line(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "crashes_at_import.py")
    assert run.code == 1
    assert ex["status"] == "error" and ex["score"] == 0
    assert "NameError" in ex["error"]["summary"] and "line 5" in ex["error"]["summary"]
    assert "torhc" in ex["error"]["traceback"]


def test_sys_exit_at_import_is_a_failed_exercise_not_a_success(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "sys_exit_at_import.py")
    assert run.code == 1
    assert ex["status"] == "error" and ex["score"] == 0
    assert "sys.exit" in ex["message"]


def test_infinite_loop_at_import_times_out(run_grade, tmp_path):
    started = time.monotonic()
    run, ex = grade_file(
        run_grade, tmp_path, "infinite_loop_at_import.py", "--timeout", "10", timeout=60
    )
    assert time.monotonic() - started < 40
    assert run.code == 1
    assert ex["status"] == "timeout" and ex["score"] == 0
    assert ex["message"]


def test_infinite_loop_in_a_call_times_out_naming_the_function(run_grade, tmp_path):
    started = time.monotonic()
    run, ex = grade_file(
        run_grade, tmp_path, "infinite_loop_in_call.py", "--timeout", "10", timeout=60
    )
    assert time.monotonic() - started < 40
    assert run.code == 1
    # The loop costs square_and_sum's checks; make_leaf and leaf_flags keep their points.
    assert ex["status"] == "graded"
    failed = [c for c in ex["checks"] if not c["passed"]]
    assert failed and all(c["name"].startswith("test_square_and_sum") for c in failed)
    assert all(c["hint"]["params"]["function"] == "square_and_sum" for c in failed)
    assert 0 < ex["score"] < ex["max_score"]


def test_corrupt_notebook_is_a_clear_error(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "corrupt_notebook.ipynb")
    assert run.code == 1
    assert ex["status"] == "error" and ex["score"] == 0
    assert "corrupt notebook" in ex["message"]
    assert "corrupt notebook" in run.stdout


def test_file_that_is_not_utf8_is_a_clear_error(run_grade, tmp_path):
    source = tmp_path / "not_utf8.py"
    text = (EX01 / "passes_all.py").read_bytes()
    # Latin-1 bytes in a comment on line 2, as an editor set to cp1252 would save them.
    source.write_bytes(text.replace(b"\n", b"\n# caf\xe9 na\xefve\n", 1))
    run, ex = grade_file(run_grade, tmp_path, source)
    assert run.code == 1
    assert ex["status"] == "error" and ex["score"] == 0
    assert "UTF-8" in ex["message"] and "line 2" in ex["message"]


# -- usage errors -----------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("99",),
        ("exercises/42_nothing",),
        ("no_such_file.py", "--exercise", "01"),
        (str(EX01 / "passes_all.py"), "--exercise", "99"),
        (str(EX01 / "passes_all.py"),),
        ("--exercise", "01"),
    ],
    ids=[
        "unknown-number",
        "unknown-folder",
        "missing-file",
        "file-unknown-exercise",
        "file-without-exercise",
        "exercise-without-file",
    ],
)
def test_usage_errors_exit_2_with_one_line(run_grade, tmp_path, args):
    run = run_grade(*args, "--json", tmp_path / "r.json")
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grade: error: "), run.stderr
    assert not (tmp_path / "r.json").exists()


def test_outside_a_course_is_a_usage_error(run_grade, tmp_path):
    run = run_grade("01", cwd=tmp_path)
    assert run.code == 2
    assert run.stderr.startswith("grade: error: no course found")
    assert len(run.stderr.strip().splitlines()) == 1


# -- every exercise ---------------------------------------------------------------
def _with_two_exercises(course: Path) -> Path:
    # Exercise 02 gets 01's checks if it has none yet, so there are rows to tabulate.
    second = course / "checks" / "02_vector_grad_mean"
    if not second.exists():
        shutil.copytree(course / "checks" / "01_leaf_tensors", second)
    return course


def test_no_argument_grades_every_exercise_into_a_table(run_grade, course_copy, tmp_path):
    course = _with_two_exercises(course_copy(EX01 / "passes_all.py"))
    run = run_grade("--json", tmp_path / "r.json", cwd=course, timeout=300)
    (student,) = results(tmp_path / "r.json")["students"]
    names = [e["exercise"] for e in student["exercises"]]
    assert names[:2] == ["01_leaf_tensors", "02_vector_grad_mean"]
    assert names == sorted(p.name for p in (course / "checks").iterdir() if p.is_dir())
    assert run.code == 1  # the other exercises are still stubs
    for ex in student["exercises"]:
        row = rf"^{ex['exercise']}\s+{ex['score']:g}/{ex['max_score']:g}"
        assert re.search(row, run.stdout, re.M), run.stdout
    assert student["exercises"][0]["score"] == FULL
    assert total_line(run.stdout) == f"total {student['score']:g}/{student['max_score']:g}"
    # A table: one row per exercise, not every check of every exercise.
    assert not re.search(r"^\s+(PASS|FAIL)\b", run.stdout, re.M), run.stdout


def test_json_report_documents_the_run(run_grade, tmp_path):
    run, ex = grade_file(run_grade, tmp_path, "passes_all.py")
    document = results(tmp_path / "r.json")
    assert document["format"] == 1 and document["lang"] == "en"
    import getpass

    assert document["students"][0]["student"] == getpass.getuser()
    assert set(ex) >= EXERCISE_KEYS
    assert len(ex["digest"]) == 64


def test_a_check_that_crashes_is_the_graders_fault_exit_2(run_grade, course_copy, tmp_path):
    # A bug in the checks must not pass for the student's failure (exit 1).
    course = course_copy(EX01 / "passes_all.py")
    broken = course / "checks" / "01_leaf_tensors" / "test_broken_check.py"
    broken.write_text("def test_broken(submission):\n    {}['no such key']\n", encoding="utf-8")
    run = run_grade("01", "--json", tmp_path / "r.json", cwd=course)
    assert run.code == 2, run.stdout + run.stderr
    assert "total" in run.stdout  # the student still sees what was graded
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("grade: error: 1 check(s) could not run (test_broken)")
    assert "not of the submission" in line
    # The check's traceback, for the instructor: in the file the line names.
    kept = Path(line.rsplit("tracebacks are in ", 1)[1].rstrip(")"))
    try:
        assert "{}['no such key']" in kept.read_text(encoding="utf-8")
    finally:
        kept.unlink()
