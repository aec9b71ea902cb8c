"""Counting the class's mistakes from the results document."""

from __future__ import annotations

from pathlib import Path

from grader.render.export import mistakes_csv, similarity_csv
from grader.render.locale import Locale
from grader.review.mistakes import common_mistakes

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _student(name: str, status: str, *hints: str) -> dict:
    checks = [
        {"name": f"test_{i}", "passed": False, "hint": {"id": h, "params": {"dtype": "int64"}}}
        for i, h in enumerate(hints)
    ]
    checks.append({"name": "test_ok", "passed": True, "hint": None})
    return {
        "student": name,
        "exercises": [{"exercise": "01_leaf_tensors", "status": status, "checks": checks}],
    }


RESULTS = {
    "students": [
        _student("ann", "graded", "make_leaf_not_float", "make_leaf_not_float"),
        _student("bo", "graded", "make_leaf_not_float", "square_and_sum_z"),
        _student("=cmd", "graded"),
        _student("dee", "error", "make_leaf_not_float"),  # crashed: says nothing
        _student("eve", "graded"),
    ]
}


def test_each_student_counts_once_and_only_graded_work_counts() -> None:
    rows = common_mistakes(RESULTS, Locale(TEMPLATES, "en"))
    assert [(r["hint"], r["students"], r["share"], r["names"]) for r in rows] == [
        ("make_leaf_not_float", 2, 0.5, ["ann", "bo"]),
        ("square_and_sum_z", 1, 0.25, ["bo"]),
    ]
    assert "int64" in rows[0]["text"]


def test_hint_text_follows_the_language() -> None:
    english = common_mistakes(RESULTS, Locale(TEMPLATES, "en"))[0]["text"]
    chinese = common_mistakes(RESULTS, Locale(TEMPLATES, "zh"))[0]["text"]
    assert english != chinese and any("\u4e00" <= c <= "\u9fff" for c in chinese)


def test_csv_columns_and_formula_cells_are_defused() -> None:
    text = mistakes_csv(
        [{"exercise": "01", "hint": "h", "students": 1, "share": 0.5, "names": ["=cmd", "b"]}]
    )
    assert text.splitlines() == [
        "exercise,hint,students,share,example_students",
        "01,h,1,0.5,'=cmd; b",
    ]
    pairs = similarity_csv(
        [{"exercise": "all", "student_a": "+a", "student_b": "b", "similarity": 0.75}]
    )
    assert pairs.splitlines() == ["exercise,student_a,student_b,similarity", "all,'+a,b,0.75"]
