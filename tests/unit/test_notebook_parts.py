"""The pure parts of check() and grade --watch: the cells collected, results read, saves seen."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from watchdog.events import (
    FileClosedNoWriteEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from grader import notebook
from grader.course.find import Course
from grader.drivers.watch import _Saves, watched_files

COURSE = Path(__file__).resolve().parents[2]


def _shell(cells: list[str], **namespace: object) -> SimpleNamespace:
    return SimpleNamespace(
        history_manager=SimpleNamespace(input_hist_raw=["", *cells]),
        execution_count=len(cells),  # the last cell is the one running
        user_ns=namespace,
    )


def test_kernel_cells_are_the_cells_before_the_running_one(monkeypatch) -> None:
    monkeypatch.setattr(notebook, "_interrupted_cells", set())
    shell = _shell(["import torch", "oops(", "while True: pass", "check('03')"])
    # A cell that raised runs again (the kernel went on after it, and so does the grading).
    notebook._record_interruptions(SimpleNamespace(execution_count=2, error_in_exec=None))
    notebook._record_interruptions(
        SimpleNamespace(execution_count=3, error_in_exec=KeyboardInterrupt())
    )
    # The interrupted cell keeps its place, blank, so "cell 4" would still be In [4].
    assert notebook.kernel_cells(shell) == ["import torch", "oops(", ""]


def test_check_outside_a_kernel_does_nothing(capsys, monkeypatch) -> None:
    # A saved notebook graded by `grade` runs its check() cell in the child.
    monkeypatch.setattr(notebook, "_shell", lambda: None)
    assert notebook.check("03") is None
    assert "grade" in capsys.readouterr().out


def test_no_course_is_one_line_not_a_score(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(notebook, "_shell", lambda: _shell(["check('03')"]))
    monkeypatch.chdir(tmp_path)
    result = notebook.check("03")
    assert result is not None and result.score is None and not result.passed
    assert repr(result).startswith("check: no course found")
    assert len(repr(result).splitlines()) == 1
    assert "<" not in result._repr_html_().split("</b>", 1)[1].rsplit("</p>", 1)[0]


def test_check_without_a_name_needs_a_defined_function(monkeypatch) -> None:
    monkeypatch.setattr(notebook, "_shell", lambda: _shell(["x = 1", "check()"], x=1))
    monkeypatch.chdir(COURSE)
    result = notebook.check()
    assert result is not None and "defines none of the exercises' functions" in result.problem


def test_exercise_functions_come_from_the_stub() -> None:
    exercise = Course.load(COURSE).exercise("03")
    assert exercise.functions == ("scalar_pair_grads", "vector_pair_grads", "pair_grads")


def _document(hint: str | None) -> dict:
    check = {"name": "test_a", "passed": hint is None, "score": 0.0, "max_score": 2.0}
    check["hint"] = {"id": hint, "params": {}} if hint else None
    exercise = {"exercise": "03_x", "message": "the grader could not start", "checks": [check]}
    return {"seed": 5, "students": [{"score": 0.0, "max_score": 2.0, "exercises": [exercise]}]}


def test_a_grader_failure_is_never_a_students_zero() -> None:
    result = notebook._result(_document("grader_failed"), "total 0/2", COURSE, "en")
    assert result.score is None and "could not start" in result.problem


def test_a_students_zero_is_a_score() -> None:
    result = notebook._result(_document("wrong_values"), "total 0/2", COURSE, "en")
    assert (result.score, result.max_score, result.seed) == (0.0, 2.0, 5)
    assert result.checks[0]["exercise"] == "03_x" and repr(result) == "total 0/2"


def test_watch_looks_at_the_exercise_folder_and_a_file_kept_elsewhere(tmp_path: Path) -> None:
    exercise = Course.load(COURSE).exercise("03")
    mine = tmp_path / "mine.py"
    folders = watched_files([(exercise, exercise.folder / "exercise.py"), (exercise, mine)])
    assert folders[exercise.folder.resolve()] == {"exercise.py", "exercise.ipynb"}
    assert folders[tmp_path.resolve()] == {"mine.py"}


@pytest.mark.parametrize(
    ("event", "counts"),
    [
        (FileModifiedEvent("/c/ex/exercise.py"), True),
        (FileMovedEvent("/c/ex/.exercise.py.swp", "/c/ex/exercise.py"), True),
        (FileModifiedEvent("/c/ex/README.md"), False),
        (FileModifiedEvent("/c/other/exercise.py"), False),
        # The grader reading the file must not start another grade.
        (FileOpenedEvent("/c/ex/exercise.py"), False),
        (FileClosedNoWriteEvent("/c/ex/exercise.py"), False),
    ],
)
def test_only_writes_to_the_exercise_file_count_as_a_save(event, counts: bool) -> None:
    saves = _Saves({Path("/c/ex"): {"exercise.py", "exercise.ipynb"}})
    saves.dispatch(event)
    assert saves.changed.is_set() is counts


def test_a_result_shows_in_the_notebook_in_the_language_it_was_graded_in() -> None:
    # The records come written in that language from `grade --lang`; the fragment adds
    # its own words in it too (the renderer failing would show the plain summary).
    import report_samples as samples

    student = samples.partly_wrong()
    result = notebook.Result(
        score=student["score"],
        max_score=student["max_score"],
        exercises=tuple(student["exercises"]),
        seed=1,
        summary="plain summary",
        course=COURSE,
        lang="zh",
    )
    fragment = result._repr_html_()
    assert fragment.startswith('<div class="grade-check">'), fragment[:200]
    assert "未通过" in fragment and "plain summary" not in fragment
