"""Drive ``grade batch`` on a class built to test the instructor's review.

The class: three students hand in the reference solutions, three make known
mistakes (from ``solutions/*/mistakes``), two hand in a disguised copy of
one another and two wrote correct solutions independently
(``tests/fixtures/class_review``). The review must count the mistakes
exactly, flag the copies and leave the independent pair alone.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grader.review.similarity import DEFAULT_THRESHOLD

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "class_review"
LEAF, DESCENT = "01_leaf_tensors", "06_minimize_square"
ARGS = ["--exercises", "01,06", "--seed", "1", "--jobs", "2"]


def _solution(exercise: str) -> str:
    return (REPO / "solutions" / exercise / "solution.py").read_text(encoding="utf-8")


def _mistake(exercise: str, name: str) -> str:
    return (REPO / "solutions" / exercise / "mistakes" / f"{name}.py").read_text(encoding="utf-8")


def _fixture(student: str, number: str) -> str:
    return (FIXTURES / f"{student}_{number}.py").read_text(encoding="utf-8")


# The hints each known mistake earns (as `grade verify` guarantees it is caught).
EXPECTED_MISTAKES = {
    (LEAF, "make_leaf_no_requires_grad"): ["forgot_both"],
    (LEAF, "make_leaf_not_leaf_or_tracked"): ["forgot_both"],
    (LEAF, "square_and_sum_grad"): ["mean_instead_of_sum"],
    (LEAF, "square_and_sum_z"): ["mean_instead_of_sum"],
    (DESCENT, "descent_not_zeroed"): ["forgot_both", "forgot_to_zero"],
    (DESCENT, "history_wrong"): ["forgot_both", "forgot_to_zero"],
}
COPIES = ("copied_disguised", "copied_original")
INDEPENDENT = ("independent_a", "independent_b")


def build_class(root: Path) -> Path:
    """Write one folder per student under ``root``; return ``root``."""
    work = {
        **{f"reference_{n}": {LEAF: _solution(LEAF), DESCENT: _solution(DESCENT)} for n in "123"},
        "mean_instead_of_sum": {
            LEAF: _mistake(LEAF, "mean_instead_of_sum"),
            DESCENT: _solution(DESCENT),
        },
        "forgot_both": {
            LEAF: _mistake(LEAF, "forgot_requires_grad"),
            DESCENT: _mistake(DESCENT, "forgot_to_zero"),
        },
        "forgot_to_zero": {LEAF: _solution(LEAF), DESCENT: _mistake(DESCENT, "forgot_to_zero")},
        **{s: {LEAF: _fixture(s, "01"), DESCENT: _fixture(s, "06")} for s in COPIES + INDEPENDENT},
    }
    for student, files in work.items():
        for exercise, text in files.items():
            path = root / student / f"{exercise}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return root


def run_batch(tmp: Path, submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    grade = shutil.which("grade")
    assert grade, "the grade command is not installed (pip install -e .)"
    tmp.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [grade, "batch", str(submissions), "--out", str(out), *ARGS, *extra],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write_roster(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The class graded once with a Canvas roster: (class folder, OUT, stderr)."""
    base = tmp_path_factory.mktemp("review")
    folder = build_class(base / "class")
    students = sorted(p.name for p in folder.iterdir())
    # One student is missing from the roster, and the roster has one who handed nothing in.
    roster = write_roster(
        base / "roster.csv",
        ["folder", "Student", "ID", "SIS User ID", "SIS Login ID", "Section"],
        [
            [s, f"Name {s}", str(100 + i), f"sis{i}", f"login{i}", "A"]
            for i, s in enumerate(students)
        ][1:]
        + [["dropped_out", "Dropped Out", "999", "sis99", "login99", "A"]],
    )
    out = base / "out"
    run = run_batch(base / "tmp", folder, out, "--gradebook", "canvas", "--roster", str(roster))
    assert run.returncode == 0, run.stderr
    return folder, out, run.stderr


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_mistakes_table_counts_exactly(reviewed: tuple[Path, Path, str]) -> None:
    _, out, _ = reviewed
    mistakes = _results(out)["mistakes"]
    found = {(m["exercise"], m["hint"]): m["names"] for m in mistakes}
    assert found == EXPECTED_MISTAKES
    for m in mistakes:
        assert m["students"] == len(m["names"])
        assert m["share"] == round(len(m["names"]) / 10, 4)  # all ten graded both exercises
        assert m["text"] and m["text"] != m["hint"]
    # Most common first within each exercise.
    descent = [m["students"] for m in mistakes if m["exercise"] == DESCENT]
    assert descent == sorted(descent, reverse=True)


def test_mistakes_csv_has_the_exact_columns(reviewed: tuple[Path, Path, str]) -> None:
    _, out, _ = reviewed
    with (out / "mistakes.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == ["exercise", "hint", "students", "share", "example_students"]
    rows = _csv(out / "mistakes.csv")
    assert {(r["exercise"], r["hint"]): int(r["students"]) for r in rows} == {
        key: len(names) for key, names in EXPECTED_MISTAKES.items()
    }
    zeroed = next(r for r in rows if r["hint"] == "descent_not_zeroed")
    assert zeroed["example_students"] == "forgot_both; forgot_to_zero"
    assert float(zeroed["share"]) == 0.2


def test_the_disguised_copies_are_flagged_and_the_independent_pair_is_not(
    reviewed: tuple[Path, Path, str],
) -> None:
    _, out, _ = reviewed
    pairs = _results(out)["similarity"]["pairs"]
    flagged = {(p["exercise"], p["student_a"], p["student_b"]) for p in pairs}
    assert flagged == {(e, *COPIES) for e in (LEAF, DESCENT, "all")}
    assert all(p["similarity"] >= DEFAULT_THRESHOLD for p in pairs)
    with (out / "similarity.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["exercise", "student_a", "student_b", "similarity"]
    assert {tuple(r[:3]) for r in rows[1:]} == flagged
    assert not any(set(INDEPENDENT) & set(r[1:3]) for r in rows[1:])


def test_the_side_by_side_page_marks_the_shared_code(reviewed: tuple[Path, Path, str]) -> None:
    _, out, _ = reviewed
    index = (out / "index.html").read_text(encoding="utf-8")
    for pair in _results(out)["similarity"]["pairs"]:
        assert f'href="{pair["page"]}"' in index
        page = (out / pair["page"]).read_text(encoding="utf-8")
        assert "<mark>" in page and "not a finding of misconduct" in page
        assert 'href="../copied_original/report.html"' in page


def test_the_review_changes_no_score(reviewed: tuple[Path, Path, str]) -> None:
    _, out, _ = reviewed
    by_name = {s["student"]: s for s in _results(out)["students"]}
    for student in COPIES + INDEPENDENT:
        assert by_name[student]["score"] == by_name[student]["max_score"], student


def test_canvas_gradebook_has_the_documented_columns(reviewed: tuple[Path, Path, str]) -> None:
    folder, out, stderr = reviewed
    with (out / "gradebook-canvas.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    # Canvas Instructor Guide, "How do I import grades in the Gradebook?".
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert [c[:2] for c in rows[0][5:]] == ["01", "06"]
    assert rows[1][0] == "Points Possible"
    results = {s["student"]: s for s in _results(out)["students"]}
    students = sorted(p.name for p in folder.iterdir())
    assert len(rows) == 2 + len(students) - 1
    for row in rows[2:]:
        name = row[0].removeprefix("Name ")
        scores = [e["score"] for e in results[name]["exercises"]]
        assert [float(c) for c in row[5:]] == scores
    # Nobody dropped silently: both sides of the mismatch are named.
    unmatched = _csv(out / "gradebook-unmatched.csv")
    assert {(r["folder"], r["problem"]) for r in unmatched} == {
        (students[0], "not in roster"),
        ("dropped_out", "no submission"),
    }
    assert "not in the roster" in stderr and students[0] in stderr
    assert "dropped_out" in stderr


def test_moodle_gradebook_identifies_users_by_id_number(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "ana").mkdir(parents=True)
    (folder / "ana" / f"{LEAF}.py").write_text(_solution(LEAF), encoding="utf-8")
    roster = write_roster(
        tmp_path / "roster.csv",
        ["folder", "First name", "ID number", "Email address"],
        [["ana", "Ana", "S-1", "ana@example.org"]],
    )
    out = tmp_path / "out"
    grade = shutil.which("grade")
    assert grade
    done = subprocess.run(
        [grade, "batch", str(folder), "--out", str(out), "--exercises", "01", "--seed", "1",
         "--jobs", "1", "--gradebook", "moodle", "--roster", str(roster)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = _csv(out / "gradebook-moodle.csv")
    assert list(rows[0])[:2] == ["ID number", "Email address"]
    assert rows == [
        {
            "ID number": "S-1",
            "Email address": "ana@example.org",
            **{k: v for k, v in rows[0].items() if k.startswith("01")},
        }
    ]
    assert float(next(v for k, v in rows[0].items() if k.startswith("01"))) == 10.0


@pytest.mark.parametrize(
    ("roster", "words"),
    [
        (None, "no such file"),
        ("folder,Student\nana,Ana\n", "missing column(s) ID"),
        ("folder,Student,ID\nana,Ana,1\nbob,Bob,1\n", "id '1' already on line 2"),
        ("folder,Student,ID\nana,Ana,1\nana,Ana again,2\n", "folder 'ana' listed twice"),
    ],
)
def test_a_bad_roster_stops_before_grading(tmp_path: Path, roster: str | None, words: str) -> None:
    folder = build_class(tmp_path / "class")
    path = tmp_path / "roster.csv"
    if roster is not None:
        path.write_text(roster, encoding="utf-8")
    out = tmp_path / "out"
    done = run_batch(tmp_path / "tmp", folder, out, "--gradebook", "canvas", "--roster", str(path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("grade: error: roster"), done.stderr
    assert words in lines[0]
    assert not out.exists(), "nothing was graded"
