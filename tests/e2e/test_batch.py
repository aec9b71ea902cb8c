"""Drive ``grade batch`` on a class of fixture students, each named by the result it expects.

One uninterrupted run of the class is shared by the module; the other tests
(zip input, resuming, an interrupted run) compare themselves against it.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import EXERCISE_KEYS
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.course.find import Course
from grader.intake import report_folders
from grader.judge.checks import max_score
from grader.render.locale import Locale

REPO = Path(__file__).resolve().parents[2]
EXERCISE = "01_leaf_tensors"
SOLUTION = REPO / "solutions" / EXERCISE / "solution.py"
MISTAKES = REPO / "solutions" / EXERCISE / "mistakes"
ARGS = ["--exercises", "01", "--seed", "1", "--jobs", "2"]
PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+): ([\d.]+)/([\d.]+)$")

MAX_SCORE = max_score(Course.load(REPO).exercise("01").checks)
PASSES_ALL = (
    "passes_all_flat_py",
    "passes_all_flat_ipynb",
    "passes_all_folder_py",
    "passes_all_folder_ipynb",
)
# student -> (status, check that must fail, or None when every check passes)
EXPECTED: dict[str, tuple[str, str | None]] = {
    **{name: ("graded", None) for name in PASSES_ALL},
    "mean_instead_of_sum": ("graded", "test_square_and_sum_values"),
    "forgot_requires_grad": ("graded", "test_make_leaf_requires_grad"),
    "missing_exercise": ("missing", None),
    "syntax_error": ("error", None),
}


# -- building the class ---------------------------------------------------------
def _notebook(code: str) -> str:
    """Split a solution into notebook cells, with a magic a student would leave in."""
    head, _, rest = code.partition("\ndef ")
    cells = [
        new_markdown_cell("# Exercise 01\nMy answers."),
        new_code_cell("%matplotlib inline\n" + head),
        new_code_cell("def " + rest),
    ]
    return nbformat.writes(new_notebook(cells=cells))


def build_class(root: Path) -> Path:
    """Write one folder per student under ``root``; return ``root``."""
    solution = SOLUTION.read_text(encoding="utf-8")
    files = {
        f"passes_all_flat_py/{EXERCISE}.py": solution,
        f"passes_all_flat_ipynb/{EXERCISE}.ipynb": _notebook(solution),
        f"passes_all_folder_py/{EXERCISE}/exercise.py": solution,
        f"passes_all_folder_ipynb/{EXERCISE}/exercise.ipynb": _notebook(solution),
        f"mean_instead_of_sum/{EXERCISE}.py": (MISTAKES / "mean_instead_of_sum.py").read_text(),
        f"forgot_requires_grad/{EXERCISE}/exercise.py": (
            MISTAKES / "forgot_requires_grad.py"
        ).read_text(),
        "missing_exercise/notes.txt": "I will hand it in next week.\n",
        f"syntax_error/{EXERCISE}.py": "import torch\n\ndef make_leaf(values:\n    return 1\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert sorted(p.name for p in root.iterdir()) == sorted(EXPECTED)
    return root


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


# -- running grade -----------------------------------------------------------------
@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def progress(self) -> list[str]:
        """Return the students named by the progress lines, in order."""
        return [m.group(3) for line in self.stderr.splitlines() if (m := PROGRESS.match(line))]


def _environment(tmp: Path) -> dict[str, str]:
    # The zip is unpacked under TMPDIR: keep it (and any zip slip) inside the test's folder.
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp)}


def _command(submissions: Path, out: Path, *extra: str) -> list[str]:
    grade = shutil.which("grade")
    assert grade, "the grade command is not installed (pip install -e .)"
    return [grade, "batch", str(submissions), "--out", str(out), *ARGS, *extra]


def run_batch(submissions: Path, out: Path, tmp: Path, *extra: str, course: Path = REPO) -> Run:
    done = subprocess.run(
        _command(submissions, out, *extra),
        cwd=course,
        env=_environment(tmp),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def grade_batch(tmp_path: Path) -> Callable[..., Run]:
    """Run ``grade batch SUBMISSIONS --out OUT`` with the class's options."""
    return lambda submissions, out, *extra: run_batch(submissions, out, tmp_path / "tmpdir", *extra)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Run]:
    """The class, and one uninterrupted run of it: (class folder, OUT, run)."""
    base = tmp_path_factory.mktemp("graded")
    folder = build_class(base / "class")
    out = base / "out"
    run = run_batch(folder, out, base / "tmpdir")
    assert run.returncode == 0, run.stderr
    return folder, out, run


def load_results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """Project results onto what must not depend on how the run went: scores and verdicts."""
    return {
        s["student"]: (
            s["score"],
            s["max_score"],
            [
                (
                    e["exercise"],
                    e["status"],
                    e["score"],
                    e["max_score"],
                    e["message"],
                    [(c["name"], c["passed"], c["score"], c["max_score"]) for c in e["checks"]],
                )
                for e in s["exercises"]
            ],
        )
        for s in results["students"]
    }


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# -- one run of the class --------------------------------------------------------------
def test_batch_summary_and_progress_lines(graded: tuple[Path, Path, Run]) -> None:
    _, out, run = graded
    assert run.stdout.startswith(f"graded {len(EXPECTED)} student(s), kept 0 unchanged")
    assert "(seed 1)" in run.stdout
    # Not a terminal: one plain line per student, counted up to the class size.
    lines = [line for line in run.stderr.splitlines() if PROGRESS.match(line)]
    assert sorted(run.progress()) == sorted(EXPECTED)
    assert [m.group(1) for line in lines if (m := PROGRESS.match(line))] == [
        str(i) for i in range(1, len(EXPECTED) + 1)
    ]


# ``identity``: who the platform (here: the folder) says the student is.
STUDENT_KEYS = {"student", "score", "max_score", "exercises", "identity"}
CHECK_KEYS = {"name", "title", "passed", "score", "max_score", "message", "hint"}


def test_results_json_has_the_documented_shape(graded: tuple[Path, Path, Run]) -> None:
    _, out, _ = graded
    results = load_results(out)
    # The class review (mistakes, near-copies) is documented in docs/course-layout.md.
    assert set(results) == {
        "format",
        "grader",
        "seed",
        "lang",
        "students",
        "trusted_submissions",
        "mistakes",
        "similarity",
        "intake",
    }
    assert results["intake"] == {"layout": "folders", "unplaced": [], "choices": []}
    assert results["trusted_submissions"] is False
    assert results["format"] == 1
    assert results["seed"] == 1
    assert results["lang"] == "en"
    assert results["grader"].startswith("autograd-grader ")
    students = results["students"]
    assert [s["student"] for s in students] == sorted(EXPECTED)
    for student in students:
        assert set(student) == STUDENT_KEYS
        assert student["identity"] == {
            "platform": "folders",
            "name": student["student"],
            "id": student["student"],
        }
        assert [e["exercise"] for e in student["exercises"]] == [EXERCISE]
        assert student["max_score"] == MAX_SCORE
        assert student["score"] == sum(e["score"] for e in student["exercises"])
        for exercise in student["exercises"]:
            assert set(exercise) == EXERCISE_KEYS
            assert exercise["status"] in ("graded", "missing", "error", "timeout")
            assert isinstance(exercise["message"], str)
            assert exercise["error"] is None or set(exercise["error"]) == {
                "kind",
                "summary",
                "traceback",
            }
            for check in exercise["checks"]:
                assert set(check) == CHECK_KEYS
                assert check["score"] == (check["max_score"] if check["passed"] else 0.0)
                assert (check["message"] == "") == check["passed"]
                assert (check["hint"] is None) == check["passed"]
                if check["hint"] is not None:
                    assert set(check["hint"]) == {"id", "params"}
            if exercise["checks"]:
                assert exercise["score"] == sum(c["score"] for c in exercise["checks"])
                assert exercise["max_score"] == sum(c["max_score"] for c in exercise["checks"])


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_student_gets_the_expected_result(
    graded: tuple[Path, Path, Run], student: str
) -> None:
    _, out, _ = graded
    (record,) = [s for s in load_results(out)["students"] if s["student"] == student]
    (exercise,) = record["exercises"]
    status, failing = EXPECTED[student]
    assert exercise["status"] == status, exercise["message"]
    if status == "missing":
        assert exercise["score"] == 0.0
        assert exercise["checks"] == []
        assert exercise["message"]
        assert exercise["max_score"] == MAX_SCORE
    elif status == "error":
        assert exercise["score"] == 0.0
        assert exercise["message"], "an error needs a reason"
        assert "syntax" in exercise["message"].lower()
        assert exercise["error"] is not None
        assert not any(c["passed"] for c in exercise["checks"])
    elif failing is None:
        assert exercise["message"] == ""
        assert exercise["checks"], "a graded exercise ran its checks"
        assert all(c["passed"] for c in exercise["checks"]), exercise["checks"]
        assert exercise["score"] == exercise["max_score"] == MAX_SCORE
    else:
        by_name = {c["name"]: c for c in exercise["checks"]}
        assert not by_name[failing]["passed"]
        assert by_name[failing]["message"]
        assert 0 < exercise["score"] < MAX_SCORE


def test_grades_csv_has_a_row_per_student(graded: tuple[Path, Path, Run]) -> None:
    _, out, _ = graded
    results = load_results(out)
    with (out / "grades.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", EXERCISE, "total", "max_total"]
    table = {row[0]: row[1:] for row in rows[1:]}
    assert len(rows) == len(EXPECTED) + 1
    for student in results["students"]:
        exercise, total, max_total = map(float, table[student["student"]])
        assert exercise == student["exercises"][0]["score"]
        assert total == student["score"]
        assert max_total == student["max_score"] == MAX_SCORE


def test_index_links_every_report_and_reports_show_the_score(
    graded: tuple[Path, Path, Run],
) -> None:
    _, out, _ = graded
    index = (out / "index.html").read_text(encoding="utf-8")
    for student in load_results(out)["students"]:
        name = student["student"]
        assert name in index
        assert f'href="{name}/report.html"' in index
        report = out / name / "report.html"
        assert report.is_file()
        text = _text(report.read_text(encoding="utf-8"))
        assert f"{student['score']:g} / {student['max_score']:g}" in text, name


def test_state_files_hold_each_student(graded: tuple[Path, Path, Run]) -> None:
    _, out, _ = graded
    states = {p.stem: json.loads(p.read_text()) for p in (out / ".state").glob("*.json")}
    assert sorted(states) == sorted(EXPECTED)
    assert all(EXERCISE in s["exercises"] for s in states.values())


# -- zip input ----------------------------------------------------------------------
def test_the_same_class_as_a_zip_gives_the_same_results(
    graded: tuple[Path, Path, Run], grade_batch: Callable[..., Run], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    # Zipped the way a course platform exports it: the class folder inside the archive.
    archive = zip_folder(folder, tmp_path / "class.zip", prefix="class/")
    run = grade_batch(archive, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"graded {len(EXPECTED)} student(s)")
    assert verdicts(load_results(tmp_path / "out")) == verdicts(load_results(reference))
    # The unpacked copy is gone once the batch ends.
    assert not list((tmp_path / "tmpdir").glob("grade-batch-*"))


def _refuses(run: Run, tmp_path: Path, out: Path, words: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("grade: error:")
    assert words in lines[0]
    assert not out.exists()
    assert not any(p.name == "evil.py" for p in tmp_path.rglob("*"))
    assert not list((tmp_path / "tmpdir").glob("grade-batch-*"))


@pytest.mark.parametrize("entry", ["../evil.py", "class/../../evil.py"])
def test_zip_slip_is_refused(grade_batch: Callable[..., Run], tmp_path: Path, entry: str) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"class/passes_all/{EXERCISE}.py", SOLUTION.read_text())
        z.writestr(entry, "print('owned')\n")
    out = tmp_path / "out"
    _refuses(grade_batch(archive, out), tmp_path, out, "outside")


def test_zip_with_a_symlink_is_refused(grade_batch: Callable[..., Run], tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"class/passes_all/{EXERCISE}.py", SOLUTION.read_text())
        link = zipfile.ZipInfo(f"class/sneaky/{EXERCISE}.py")
        link.external_attr = (0o120777) << 16
        z.writestr(link, "/work/main/solutions/01_leaf_tensors/solution.py")
    out = tmp_path / "out"
    _refuses(grade_batch(archive, out), tmp_path, out, "symbolic link")


def test_a_link_out_of_a_student_folder_is_not_read(
    grade_batch: Callable[..., Run], tmp_path: Path
) -> None:
    # Cloned repositories keep symbolic links: one pointing at the instructor's files
    # would put them in the student's report (a syntax error quotes the line).
    secret = tmp_path / "instructor" / "token.txt"
    secret.parent.mkdir()
    secret.write_text("SECRET_TOKEN_4711 = (\n", encoding="utf-8")
    (secret.parent / f"{EXERCISE}.py").write_text("SECRET_TOKEN_4712 = (\n", encoding="utf-8")
    folder = tmp_path / "class"
    (folder / "passes_all").mkdir(parents=True)
    shutil.copy(SOLUTION, folder / "passes_all" / f"{EXERCISE}.py")
    (folder / "links_a_file").mkdir()
    (folder / "links_a_file" / f"{EXERCISE}.py").symlink_to(secret)
    (folder / "links_its_folder").symlink_to(secret.parent)
    (folder / "links_inside").mkdir()  # a link within the student's own folder is fine
    shutil.copy(SOLUTION, folder / "links_inside" / "mine.py")
    (folder / "links_inside" / f"{EXERCISE}.py").symlink_to("mine.py")
    out = tmp_path / "out"
    run = grade_batch(folder, out, "--exercises", EXERCISE)
    assert run.returncode == 0, run.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert "SECRET_TOKEN" not in path.read_text(encoding="utf-8", errors="replace"), path
    students = {s["student"]: s["exercises"][0] for s in load_results(out)["students"]}
    assert students["passes_all"]["score"] == students["links_inside"]["score"] == 10
    for name in ("links_a_file", "links_its_folder"):
        assert students[name]["status"] == "error"
        assert "symbolic link out of the student's folder" in students[name]["error"]["summary"]


def test_a_check_that_crashes_ends_the_batch_with_exit_2_and_the_results_written(
    course_copy, tmp_path: Path
) -> None:
    # The students lack that check's points for no doing of theirs: the instructor is told.
    course = course_copy()
    broken = course / "checks" / EXERCISE / "test_broken_check.py"
    broken.write_text("def test_broken(submission):\n    {}['no such key']\n", encoding="utf-8")
    folder = tmp_path / "class"
    (folder / "passes_all").mkdir(parents=True)
    shutil.copy(SOLUTION, folder / "passes_all" / f"{EXERCISE}.py")
    out = tmp_path / "out"
    roster = tmp_path / "roster.csv"
    roster.write_text("folder,Username\npasses_all,pa\n", encoding="utf-8")
    gradebook = ["--gradebook", "moodle", "--roster", str(roster)]
    run = run_batch(
        folder, out, tmp_path / "tmpdir", "--exercises", EXERCISE, *gradebook, course=course
    )
    assert run.returncode == 2, run.stdout + run.stderr
    (line,) = run.stderr.strip().splitlines()[-1:]
    assert line.startswith("grade: error: graded 1 student(s)")
    assert "checks could not run for 1 student(s) (test_broken)" in line
    (student,) = load_results(out)["students"]
    assert student["exercises"][0]["score"] == 10  # every other check still counts
    assert (out / "index.html").is_file()
    # Its score lacks a check's points: imported, it would overwrite a fair grade.
    rows = list(csv.reader((out / "gradebook-moodle.csv").open(encoding="utf-8")))
    assert [row[0] for row in rows] == ["Username"]
    unmatched = (out / "gradebook-unmatched.csv").read_text(encoding="utf-8")
    assert "passes_all,checks could not run" in unmatched
    assert "gradebook: 1 student(s) left out" in run.stderr


# -- resuming -----------------------------------------------------------------------
def test_rerun_grades_only_what_changed(
    graded: tuple[Path, Path, Run], grade_batch: Callable[..., Run], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    folder = Path(shutil.copytree(folder, tmp_path / "class"))
    out = Path(shutil.copytree(reference, tmp_path / "out"))
    before = load_results(out)

    again = grade_batch(folder, out)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"graded 0 student(s), kept {len(EXPECTED)} unchanged")
    assert again.progress() == []
    assert load_results(out) == before

    # The student fixes the mistake: only that student is graded again.
    fixed = "mean_instead_of_sum"
    shutil.copy(SOLUTION, folder / fixed / f"{EXERCISE}.py")
    changed = grade_batch(folder, out)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith(f"graded 1 student(s), kept {len(EXPECTED) - 1} unchanged")
    assert changed.progress() == [fixed]
    after = load_results(out)
    old = {s["student"]: s for s in before["students"]}
    for student in after["students"]:
        if student["student"] == fixed:
            assert student["score"] == MAX_SCORE
            assert student["exercises"][0]["digest"] != old[fixed]["exercises"][0]["digest"]
        else:
            # Kept as recorded, down to the duration of the original grade.
            assert student == old[student["student"]]

    forced = grade_batch(folder, out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"graded {len(EXPECTED)} student(s), kept 0 unchanged")
    assert sorted(forced.progress()) == sorted(EXPECTED)
    assert verdicts(load_results(out)) == verdicts(after)


def test_another_language_grades_nothing_again_and_writes_the_reports_in_it(
    graded: tuple[Path, Path, Run], grade_batch: Callable[..., Run], tmp_path: Path
) -> None:
    # The kept results hold hint ids, not text: a language is an output, not a regrade.
    folder, reference, _ = graded
    out = Path(shutil.copytree(reference, tmp_path / "out"))
    english = load_results(out)

    chinese = grade_batch(folder, out, "--lang", "zh")
    assert chinese.returncode == 0, chinese.stderr
    assert chinese.stdout.startswith(f"graded 0 student(s), kept {len(EXPECTED)} unchanged")
    assert chinese.progress() == []
    results = load_results(out)
    assert results["lang"] == "zh"

    def scores(document: dict[str, Any]) -> list[Any]:
        return [
            (s["student"], s["score"], [(e["digest"], e["duration"]) for e in s["exercises"]])
            for s in document["students"]
        ]

    # The very results of the English run (down to each grade's duration), reworded.
    assert scores(results) == scores(english)
    mistaken = {s["student"]: s for s in results["students"]}["mean_instead_of_sum"]
    failed = {c["name"]: c for c in mistaken["exercises"][0]["checks"] if not c["passed"]}
    assert "你是否用了 mean() 而不是 sum()" in failed["test_square_and_sum_values"]["message"]
    page = (out / "mean_instead_of_sum" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in page
    assert "你是否用了 mean() 而不是 sum()" in html.unescape(page)
    assert '<html lang="zh-Hans">' in (out / "index.html").read_text(encoding="utf-8")


def test_an_edited_check_grades_the_class_again(
    graded: tuple[Path, Path, Run], course_copy: Callable[[], Path], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    course = course_copy()
    out = Path(shutil.copytree(reference, tmp_path / "out"))
    tmp = tmp_path / "tmpdir"
    same = run_batch(folder, out, tmp, course=course)
    assert same.stdout.startswith(f"graded 0 student(s), kept {len(EXPECTED)} unchanged")

    # The instructor fixes the checks mid-term: every result they gave is stale.
    added = course / "checks" / EXERCISE / "test_added_later.py"
    added.write_text(
        'def test_added_later(submission):\n    """a check added later"""\n',
        encoding="utf-8",
    )
    again = run_batch(folder, out, tmp, course=course)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"graded {len(EXPECTED)} student(s), kept 0 unchanged")
    assert {s["max_score"] for s in load_results(out)["students"]} == {MAX_SCORE + 1}


def test_a_kept_exercise_keeps_its_plots(grade_batch: Callable[..., Run], tmp_path: Path) -> None:
    # The batch holds results without their plots while it runs (its memory must not
    # grow with every student's loss curve): what is kept must come back whole.
    descent = REPO / "solutions" / "06_minimize_square" / "solution.py"
    folder = tmp_path / "class"
    for student in ("ana", "ben"):
        (folder / student).mkdir(parents=True)
        shutil.copy(SOLUTION, folder / student / f"{EXERCISE}.py")
        shutil.copy(descent, folder / student / "06_minimize_square.py")
    out = tmp_path / "out"
    assert grade_batch(folder, out, "--exercises", "01,06").returncode == 0
    first = load_results(out)
    shutil.copy(MISTAKES / "mean_instead_of_sum.py", folder / "ana" / f"{EXERCISE}.py")
    again = grade_batch(folder, out, "--exercises", "01,06")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("graded 1 student(s), kept 1 unchanged")
    second = load_results(out)
    for before, after in zip(first["students"], second["students"], strict=True):
        plots = before["exercises"][1]["plots"]
        assert plots and after["exercises"][1]["plots"] == plots
    page = (out / "ana" / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 1


def test_interrupted_run_resumes_to_the_same_results(
    graded: tuple[Path, Path, Run], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    out = tmp_path / "out"
    process = subprocess.Popen(
        _command(folder, out),
        cwd=REPO,
        env=_environment(tmp_path / "tmpdir"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )

    def kill() -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    watchdog = threading.Timer(240, kill)  # never hang the suite on a stuck grader
    watchdog.start()
    seen = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if line.startswith("[1/"):
                kill()
                break
        rest_out, rest_err = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        kill()
    stderr = "".join(seen) + rest_err
    assert process.returncode == -signal.SIGKILL, (process.returncode, stderr, rest_out)
    assert "Traceback" not in stderr, stderr
    assert not (out / "results.json").exists(), "the kill came before the class was assembled"

    # Whatever was written is whole: every state file parses.
    states = list((out / ".state").glob("*.json"))
    assert 1 <= len(states) < len(EXPECTED)
    for path in states:
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path

    resumed = run_batch(folder, out, tmp_path / "tmpdir")
    assert resumed.returncode == 0, resumed.stderr
    match = re.match(r"graded (\d+) student\(s\), kept (\d+) unchanged", resumed.stdout)
    assert match, resumed.stdout
    assert int(match.group(2)) >= 1, "what was graded before the kill is kept"
    assert int(match.group(1)) + int(match.group(2)) == len(EXPECTED)
    assert verdicts(load_results(out)) == verdicts(load_results(reference))


@pytest.mark.slow
def test_mixed_class_gets_the_recorded_grades(tmp_path: Path) -> None:
    """Sandboxed and as fast as it got: the grades recorded before it got faster (seed 1)."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "fixtures" / "same_grades"))
    import mixed_class

    folder = tmp_path / "class"
    mixed_class.build_class(folder)
    out = tmp_path / "out"
    command = [shutil.which("grade") or "grade", "batch", str(folder), "--out", str(out)]
    done = subprocess.run(
        [*command, "--seed", str(mixed_class.SEED), "--jobs", "2"],
        cwd=REPO,
        env=_environment(tmp_path / "tmpdir"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert mixed_class.figures_of_batch(load_results(out)) == mixed_class.recorded()


def test_a_batch_that_breaks_leaves_no_pool_thread_to_trip_on_at_exit(tmp_path):
    # Python 3.11.2 (Debian's) wakes a still-running pool thread at exit through the
    # pipe that thread is closing, and prints a traceback after the batch's one line.
    from concurrent.futures.process import _ExecutorManagerThread

    from grader.drivers.batch.dispatch import LocalPool
    from grader.drivers.batch.state import Job
    from grader.engine.exercise import Settings

    root = str(tmp_path / "no-course")  # every worker fails to start
    parcels = (Job(f"s{i}", ()).pack() for i in range(2))
    with pytest.raises(Exception, match="(?i)process pool"):
        LocalPool(root, Settings(seed=1), [], 1, 2).grade(parcels, lambda *_: None)
    alive = [t for t in threading.enumerate() if isinstance(t, _ExecutorManagerThread)]
    assert not alive


def test_reports_drawn_on_forked_processes_are_the_ones_drawn_here(
    graded: tuple[Path, Path, Run], tmp_path: Path
) -> None:
    from grader.drivers.batch.assemble import _Reports

    _, out, _ = graded
    results = load_results(out)
    students = results["students"]
    assert len(students) >= 4 * 2, "enough students for the processes to be used"
    course = Course.load(REPO)
    shutil.copytree(out / ".state", tmp_path / ".state")
    folders = report_folders(s["student"] for s in students)
    for student in students:
        (tmp_path / folders[student["student"]]).mkdir()
    locale = Locale(course.templates, results["lang"])
    here = _Reports(tmp_path, students, results["seed"], locale, course, jobs=1)
    here.wait()
    for student in students:
        name = folders[student["student"]]
        drawn_here = (tmp_path / name / "report.html").read_bytes()
        assert drawn_here == (out / name / "report.html").read_bytes(), name
