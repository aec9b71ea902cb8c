"""Drive ``grade batch`` on classes laid out as real classes hand work in.

Each student is named by the result their files deserve. The classes are
small (exercise 01 only): what is under test is that the right file of the
right student is graded, and that nothing the grader could not place is
ever silently "missing".
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import nbformat
from test_batch import EXERCISE, MAX_SCORE, MISTAKES, REPO, SOLUTION, _notebook, run_batch

MEAN = (MISTAKES / "mean_instead_of_sum.py").read_text(encoding="utf-8")
CODE = SOLUTION.read_text(encoding="utf-8")

# The names students give their file for exercise 01, each in its own folder.
RENAMED = {
    "passes_number_alone": "01.py",
    "passes_number_folder": "01/exercise.py",
    "passes_exercise_number": "exercise01.py",
    "passes_any_case": "01_Leaf_Tensors.py",
    "passes_browser_copy": f"{EXERCISE} (1).py",
    "passes_resubmission": f"{EXERCISE}-1.py",
    "passes_upper_suffix": f"{EXERCISE}.PY",
    "passes_copy_in_folder": f"{EXERCISE}/exercise (1).py",
    "passes_copy_of_notebook": "Copy of exercise.ipynb",
    "passes_release_layout_deep": f"autograd-course/exercises/{EXERCISE}/exercise.py",
}


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _scores(out: Path) -> dict[str, tuple[str, float]]:
    return {
        s["student"]: (s["exercises"][0]["status"], s["exercises"][0]["score"])
        for s in _results(out)["students"]
    }


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_class_of_renamed_files_gets_the_grades_its_files_deserve(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    for student, name in RENAMED.items():
        path = folder / student / name
        path.parent.mkdir(parents=True)
        path.write_text(_notebook(CODE) if name.endswith(".ipynb") else CODE, encoding="utf-8")
    (folder / "mean_instead_of_sum_renamed").mkdir()
    (folder / "mean_instead_of_sum_renamed" / "Exercise 01.py").write_text(MEAN)
    # Nothing placeable: listed, never silently "missing".
    (folder / "missing_but_listed").mkdir()
    (folder / "missing_but_listed" / "notes.py").write_text("print('todo')\n")
    (folder / "missing_but_listed" / f"{EXERCISE}.txt").write_text(CODE)
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--exercises", EXERCISE)
    assert run.returncode == 0, run.stderr
    scores = _scores(out)
    for student in RENAMED:
        assert scores[student] == ("graded", MAX_SCORE), student
    status, score = scores["mean_instead_of_sum_renamed"]
    assert status == "graded" and 0 < score < MAX_SCORE
    assert scores["missing_but_listed"] == ("missing", 0.0)
    intake = _results(out)["intake"]
    assert intake["layout"] == "folders"
    listed = {(row["student"], row["path"]) for row in intake["unplaced"]}
    assert listed == {
        ("missing_but_listed", "notes.py"),
        ("missing_but_listed", f"{EXERCISE}.txt"),
    }
    # The table before grading, and the overview, list both.
    table = run.stderr.split("\n[1/")[0]
    assert table.startswith("grade: found a folder per student: 12 student(s)")
    assert "missing_but_listed: notes.py: its name names no exercise" in table
    assert f"missing_but_listed: {EXERCISE}.txt: named for {EXERCISE}" in table
    overview = _text((out / "index.html").read_text(encoding="utf-8"))
    assert "Files not placed on any exercise" in overview
    assert "notes.py" in overview and f"{EXERCISE}.txt" in overview


def test_a_class_of_clones_of_the_released_copy_is_graded_from_each_clone(
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    made = subprocess.run(
        [shutil.which("grade") or "grade", "release", str(release)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "class"
    work = {"passes_all": CODE, "mean_instead_of_sum": MEAN, "stub_untouched": None}
    for student, code in work.items():
        clone = folder / f"autograd-2026-{student}"
        shutil.copytree(release, clone)
        (clone / ".git").mkdir()
        if code is not None:
            (clone / "exercises" / EXERCISE / "exercise.py").write_text(code)
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--exercises", EXERCISE)
    assert run.returncode == 0, run.stderr
    scores = _scores(out)
    assert sorted(scores) == sorted(work)  # named by user name, the shared prefix gone
    assert scores["passes_all"] == ("graded", MAX_SCORE)
    assert 0 < scores["mean_instead_of_sum"][1] < MAX_SCORE
    assert scores["stub_untouched"] == ("graded", 0.0)
    results = _results(out)
    assert results["intake"]["layout"] == "repos"
    assert (
        results["intake"]["unplaced"] == []
    )  # the course's own grader/ and checks/ are not listed
    ids = {s["student"]: s["identity"] for s in results["students"]}
    assert ids["passes_all"] == {"platform": "repos", "name": "passes_all", "id": "passes_all"}


def _zipped(files: dict[str, str]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buffer.getvalue()


def _canvas(name: str, user: str, attachment: int, file: str, late: bool = False) -> str:
    head = "_".join([name, *(["LATE"] if late else []), user])
    return f"{head}_{attachment}_{file}"


def test_a_canvas_download_is_graded_and_answered_with_its_feedback_zip(tmp_path: Path) -> None:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(_canvas("smithbob", "340934", 208490284, f"{EXERCISE}.py", late=True), CODE)
        # Resubmitted: the later upload (higher attachment id, "-1") is the one graded.
        z.writestr(_canvas("núñezjosé", "1001", 5, f"{EXERCISE}.py"), MEAN)
        z.writestr(_canvas("núñezjosé", "1001", 9, f"{EXERCISE}-1.py"), CODE)
        z.writestr("doejane_1003_text.html", "<p>I wrote it here</p>")
        # A student who uploaded their folder as a zip: looked into, never unpacked.
        z.writestr(
            _canvas("leekim", "1004", 31, "homework.zip"), _zipped({f"hw/{EXERCISE}.py": CODE})
        )
    out = tmp_path / "out"
    run = run_batch(
        archive, out, tmp_path / "tmpdir", "--exercises", EXERCISE, "--gradebook", "canvas"
    )
    assert run.returncode == 0, run.stderr
    assert _scores(out) == {
        "smithbob": ("graded", MAX_SCORE),
        "núñezjosé": ("graded", MAX_SCORE),
        "doejane": ("missing", 0.0),
        "leekim": ("graded", MAX_SCORE),
    }
    results = _results(out)
    identity = {s["student"]: s["identity"] for s in results["students"]}
    assert identity["smithbob"] == {
        "platform": "canvas",
        "name": "smithbob",
        "id": "340934",
        "late": True,
        "anonymous": False,
    }
    assert results["intake"]["choices"] == [
        {
            "student": "núñezjosé",
            "exercise": EXERCISE,
            "used": f"{EXERCISE}-1.py",
            "others": [f"{EXERCISE}.py"],
        }
    ]
    assert [r["path"] for r in results["intake"]["unplaced"]] == ["doejane_1003_text.html"]
    # LATE on the overview, next to the student's name.
    overview = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r">smithbob</a> <span class=\"status late\">LATE</span>", overview)
    # Canvas's gradebook from the download's own ids: no roster needed.
    rows = list(csv.reader((out / "gradebook-canvas.csv").open(encoding="utf-8")))
    assert {(row[0], row[1], row[-1]) for row in rows[2:]} == {
        ("smithbob", "340934", "10"),
        ("núñezjosé", "1001", "10"),
        ("doejane", "1003", "0"),  # a text entry, not code: listed, and 0 as handed in
        ("leekim", "1004", "10"),
    }
    # The feedback zip: each report named with the ids of the download's file.
    with zipfile.ZipFile(out / "feedback-canvas.zip") as z:
        names = sorted(z.namelist())
        assert names == [
            "leekim_1004_31_report.html",
            "núñezjosé_1001_9_report.html",
            "smithbob_LATE_340934_208490284_report.html",
        ]
        page = z.read("smithbob_LATE_340934_208490284_report.html").decode()
        assert page == (out / "smithbob" / "report.html").read_text(encoding="utf-8")
    assert "feedback-canvas.zip: left out 1 student(s)" in run.stderr


def test_a_moodle_download_is_answered_folder_for_folder(tmp_path: Path) -> None:
    archive = tmp_path / "moodle.zip"
    download = {
        "José Núñez_12345_assignsubmission_file_": f"{EXERCISE}/exercise.py",
        "Participant_777_assignsubmission_file_": "exercise.ipynb",
    }
    with zipfile.ZipFile(archive, "w") as z:
        for folder, file in download.items():
            text = nbformat.writes(
                nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)])
            )
            z.writestr(f"{folder}/{file}", text if file.endswith(".ipynb") else CODE)
    out = tmp_path / "out"
    run = run_batch(archive, out, tmp_path / "tmpdir", "--exercises", EXERCISE)
    assert run.returncode == 0, run.stderr
    assert _scores(out) == {
        "José Núñez": ("graded", MAX_SCORE),
        "Participant 777": ("graded", MAX_SCORE),
    }
    with zipfile.ZipFile(out / "feedback-moodle.zip") as z:
        assert sorted(z.namelist()) == sorted(f"{folder}/report.html" for folder in download)
    grades = (out / "grades.csv").read_text(encoding="utf-8")
    assert "José Núñez," in grades


def test_a_layout_that_does_not_fit_is_one_line_before_grading(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "ana").mkdir(parents=True)
    (folder / "ana" / "01.py").write_text(CODE)
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--layout", "moodle")
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("grade: error: class: nothing in it for --layout moodle")
    assert not out.exists()
    # A roster-less gradebook needs ids the folders do not carry: refused before grading too.
    run = run_batch(folder, out, tmp_path / "tmpdir", "--gradebook", "moodle")
    (line,) = run.stderr.strip().splitlines()
    assert run.returncode == 2 and "pass --roster roster.csv" in line
    assert not out.exists()
