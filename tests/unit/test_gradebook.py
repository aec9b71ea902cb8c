"""The roster is checked before grading; the gradebook tables follow the platforms' formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.review.gradebook import RosterError, gradebook_table, load_roster

RESULTS = {
    "students": [
        {
            "student": name,
            "score": score,
            "max_score": 20.0,
            "exercises": [
                {"exercise": "01_leaf_tensors", "title": "Leaf", "score": score, "max_score": 10.0},
                {
                    "exercise": "06_minimize_square",
                    "title": "Descent",
                    "score": 0.0,
                    "max_score": 10.0,
                },
            ],
        }
        for name, score in (("ana", 10.0), ("bo", 7.5), ("cy", 3.0))
    ]
}


def _roster(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_canvas_table_has_the_documented_columns(tmp_path: Path) -> None:
    # A Canvas gradebook export with a folder column added serves as the roster.
    roster = load_roster(
        _roster(
            tmp_path,
            "\ufefffolder,Student,ID,SIS User ID,SIS Login ID,Section\n"
            ",Points Possible,,,,\n"
            'ana,"Lopez, Ana",101,s1,ana1,A\n'
            "bo,Bo,102,,,B\n"
            "dee,Dee,103,s3,dee3,B\n",
        ),
        "canvas",
    )
    table, unmatched = gradebook_table(RESULTS, roster)
    assert table[0] == [
        "Student", "ID", "SIS User ID", "SIS Login ID", "Section",
        "01 Leaf", "06 Descent",
    ]  # fmt: skip
    assert table[1] == ["Points Possible", "", "", "", "", 10.0, 10.0]
    assert table[2:] == [
        ["Lopez, Ana", "101", "s1", "ana1", "A", 10.0, 0.0],
        ["Bo", "102", "", "", "B", 7.5, 0.0],
    ]
    assert unmatched == [("cy", "not in roster"), ("dee", "no submission")]


def test_moodle_table_uses_the_identifiers_the_roster_has(tmp_path: Path) -> None:
    roster = load_roster(
        _roster(tmp_path, "Folder,Email address,Username\nana,a@x.org,ana\n"), "moodle"
    )
    table, unmatched = gradebook_table(RESULTS, roster)
    assert table == [
        ["Email address", "Username", "01 Leaf", "06 Descent"],
        ["a@x.org", "ana", 10.0, 0.0],
    ]
    assert [u for u, _ in unmatched] == ["bo", "cy"]


@pytest.mark.parametrize(
    ("platform", "text", "words"),
    [
        ("canvas", "folder,Student\nana,Ana\n", "missing column(s) ID for canvas"),
        ("canvas", "Student,ID\nAna,1\n", "missing column(s) folder"),
        ("moodle", "folder,First name\nana,Ana\n", "ID number or Email address or Username"),
        ("canvas", "folder,Student,ID\nana,Ana,1\nbo,Bo,1\n", "line 3: id '1' already on line 2"),
        ("moodle", "folder,email\nana,a@x\nbo,a@x\n", "email 'a@x' already on line 2"),
        ("canvas", "folder,Student,ID\nana,Ana,1\nana,Ana,2\n", "folder 'ana' listed twice"),
        ("canvas", "folder,Student,ID\nana,Ana,\n", "line 2: empty id"),
        ("moodle", "folder,email,username\nana,,\n", "no idnumber, email or username"),
        ("canvas", "", "empty"),
    ],
)
def test_a_bad_roster_is_one_line(tmp_path: Path, platform: str, text: str, words: str) -> None:
    with pytest.raises(RosterError) as caught:
        load_roster(_roster(tmp_path, text), platform)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_roster_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="no such file"):
        load_roster(tmp_path / "nope.csv", "canvas")


def test_a_student_whose_checks_crashed_is_left_out_not_given_the_lower_score(
    tmp_path: Path,
) -> None:
    import copy

    results: dict[str, Any] = copy.deepcopy(RESULTS)
    bo = results["students"][1]["exercises"][0]
    bo["checks"] = [{"name": "test_x", "hint": {"id": "check_error"}}]  # a bug in the checks
    roster = load_roster(_roster(tmp_path, "folder,Username\nana,ana\nbo,bo\n"), "moodle")
    table, unmatched = gradebook_table(results, roster)
    assert table == [["Username", "01 Leaf", "06 Descent"], ["ana", 10.0, 0.0]]
    assert ("bo", "checks could not run") in unmatched
