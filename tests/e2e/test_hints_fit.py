"""A hint's remedy fits the code: no loop where there is none, one remedy per mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import COURSE, Run, only_exercise

MISTAKES = COURSE / "solutions"
RunGrade = Callable[..., Run]


def _failed(run_grade: RunGrade, tmp_path: Path, mistake: Path, exercise: str) -> list[dict]:
    run = run_grade(mistake, "--exercise", exercise, "--json", tmp_path / "r.json")
    assert run.code == 1, run.stderr
    return [c for c in only_exercise(tmp_path / "r.json")["checks"] if not c["passed"]]


def test_backward_inside_square_and_sum_is_told_so_not_about_a_loop(
    run_grade: RunGrade, tmp_path: Path
) -> None:
    mistake = MISTAKES / "01_leaf_tensors" / "mistakes" / "backward_inside_square_and_sum.py"
    (check,) = _failed(run_grade, tmp_path, mistake, "01")
    assert check["hint"]["id"] == "square_and_sum_called_backward"
    assert "loop" not in check["message"]
    assert "without calling backward() inside square_and_sum" in check["message"]


def test_pair_grads_calling_backward_twice_gets_one_remedy(
    run_grade: RunGrade, tmp_path: Path
) -> None:
    mistake = MISTAKES / "03_multi_input_grads" / "mistakes" / "pair_grads_backward_twice.py"
    failed = _failed(run_grade, tmp_path, mistake, "03")
    assert len(failed) >= 2  # the values check, the tuple check and the autograd check
    assert {c["hint"]["id"] for c in failed} == {"graph_freed"}
    assert len({c["message"] for c in failed}) == 1
