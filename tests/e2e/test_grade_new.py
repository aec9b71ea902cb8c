"""A course author's first hour: ``grade new`` lays out an exercise or a course.

In a copy of the course, ``grade new exercise 09_detach`` writes every file an
exercise needs; ``grade verify 09`` refuses it while a placeholder is left;
filled with a small exercise whose checks are plain asserts, it passes, a
wrong answer's report shows the assert's values, and the course's own tests
pass in the copy after the one documented command. ``grade new course`` in
an empty folder starts a course that ``grade verify`` and ``grade 01`` accept
at once, with nothing new installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = "09_detach"
MARK = "TODO(grade new)"


def _grade(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    grade = shutil.which("grade")
    assert grade, "the grade command is not on PATH (pip install -e .)"
    env = {
        k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")
    }
    done = subprocess.run(
        [grade, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _course_copy(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(
        REPO,
        root,
        ignore=shutil.ignore_patterns(
            ".git", "reports", "__pycache__", "*.egg-info", ".*_cache", "benchmarks"
        ),
    )
    return root


STUB = '''\
"""Exercise 09: leaving the graph with detach().

Read README.md first, then check your work with `grade 09`.
"""

import torch


def detach(values) -> torch.Tensor:
    """Return 3 * x for x = values, as a float32 tensor autograd does not track."""
    raise NotImplementedError
'''


def _module(body: str, header: str = "") -> str:
    return f"{header}import torch\n\n\ndef detach(values):\n{body}"


FILLED = {
    f"exercises/{NAME}/README.md": "# Leaving the graph with detach()\n\n"
    "Write `detach(values)`: `3 * x` for a float32 `x` holding `values` that requires "
    "grad, returned as a tensor autograd no longer tracks (`.detach()`).\n\n"
    'Check your work with `grade 09` in a terminal, or `check("09")` in a notebook.\n',
    f"exercises/{NAME}/exercise.py": STUB,
    f"solutions/{NAME}/solution.py": _module(
        "    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)\n"
        "    return (3 * x).detach()\n"
    ),
    f"solutions/{NAME}/mistakes/example_mistake.py": _module(
        "    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)\n"
        "    return 3 * x  # MISTAKE\n",
        "# mistake: forgets detach(), so the result is still in the graph\n"
        "# caught-by: test_detach_not_tracked\n",
    ),
    f"solutions/{NAME}/mistakes/twice.py": _module(
        "    x = torch.tensor(values, dtype=torch.float32, requires_grad=True)\n"
        "    return (2 * x).detach()  # MISTAKE\n",
        "# mistake: multiplies by 2 instead of 3\n# caught-by: test_detach_values\n",
    ),
    f"solutions/{NAME}/mistakes/float64.py": _module(
        "    x = torch.tensor(values, dtype=torch.float64, requires_grad=True)  # MISTAKE\n"
        "    return (3 * x).detach()\n",
        "# mistake: builds x in float64\n# caught-by: test_detach_float32\n",
    ),
    f"solutions/{NAME}/mistakes/no_grad_x.py": _module(
        "    x = torch.tensor(values, dtype=torch.float32)\n    return x.detach()  # MISTAKE\n",
        "# mistake: returns x itself, never multiplied\n# caught-by: test_detach_values\n",
    ),
    f"checks/{NAME}/test_detach.py": '''\
"""Hidden checks of exercise 09_detach: plain asserts, as in pytest."""

import pytest

from grader.check import hint, points, preview, random_values


@points(2)
def test_detach_values(submission, rng):
    """detach(values) holds 3 * x"""
    values = random_values(rng, 4)
    got = submission.call("detach", values).tensor()
    want = [3 * v for v in values]
    assert got.data == pytest.approx(want, rel=2e-4, abs=1e-5), hint(
        "detach_wrong", got=preview(got.data), want=preview(want)
    )


@points(1)
def test_detach_not_tracked(submission, rng):
    """autograd does not track the result"""
    got = submission.call("detach", random_values(rng, 3)).tensor()
    assert not got.requires_grad and got.grad_fn is None, hint("detach_tracked")


@points(1)
def test_detach_float32(submission, rng):
    """the result is a float32 tensor"""
    got = submission.call("detach", random_values(rng, 3)).tensor()
    assert got.dtype == "float32"
''',
    f"templates/locale/en/{NAME}.toml": """\
[hints]
detach_wrong = "detach should hold 3 * x: expected {want}, got {got}."
detach_tracked = "the result is still in the graph: return `(3 * x).detach()`."
""",
    f"templates/locale/zh/{NAME}.toml": """\
[hints]
detach_wrong = "detach 应当等于 3 * x：期望 {want}，得到 {got}。"
detach_tracked = "结果仍在计算图中：请返回 `(3 * x).detach()`。"
""",
}


def test_a_new_exercise_from_grade_new_to_a_green_course(tmp_path: Path) -> None:
    root = _course_copy(tmp_path)
    made = _grade(root, "new", "exercise", NAME)
    assert made.returncode == 0, made.stdout + made.stderr
    written = sorted(
        line.split(" ", 1)[1] for line in made.stdout.splitlines() if line.startswith("wrote ")
    )
    laid_out = [n for n in FILLED if "/mistakes/" not in n or n.endswith("/example_mistake.py")]
    assert written == sorted(laid_out), written
    for name in written:
        assert MARK in (root / name).read_text(encoding="utf-8"), name
    # The number is taken now: a second exercise 09 is refused, nothing written.
    again = _grade(root, "new", "exercise", "09_other")
    assert again.returncode == 2
    assert again.stderr.strip() == f"grade: error: number 09 is taken by {NAME}: choose another"

    # Left as laid out, the exercise is refused before anything is graded.
    refused = _grade(root, "verify", "09", "--seed", "1")
    assert refused.returncode == 1 and "nothing was graded" in refused.stdout
    assert f"exercises/{NAME}/README.md:1: a placeholder of grade new is left" in refused.stderr

    for name, text in FILLED.items():
        (root / name).write_text(text, encoding="utf-8")
    verified = _grade(root, "verify", "09", "--seed", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{NAME}: solution 4/4, stub 0/4, 4/4 mistakes caught, ok" in verified.stdout

    # A wrong answer: the plain assert's report shows the values it compared.
    shutil.copy(
        root / "solutions" / NAME / "mistakes" / "float64.py",
        root / "exercises" / NAME / "exercise.py",
    )
    out = tmp_path / "results.json"
    graded = _grade(
        root, "09", "--seed", "1", "--json", str(out), "--html", str(tmp_path / "r.html")
    )
    assert graded.returncode == 1, graded.stdout + graded.stderr
    (exercise,) = json.loads(out.read_text(encoding="utf-8"))["students"][0]["exercises"]
    checks = {c["name"]: c for c in exercise["checks"]}
    assert checks["test_detach_float32"]["hint"]["id"] == "assertion_failed"
    assert checks["test_detach_float32"]["message"] == (
        "your code does not pass this check: assert 'float64' == 'float32'\n"
        "  - float32\n  + float64"
    )
    assert "assert 'float64' == 'float32'" in graded.stdout
    shutil.copy(root / "exercises" / NAME / "exercise.py", tmp_path / "float64.py")
    (root / "exercises" / NAME / "exercise.py").write_text(STUB, encoding="utf-8")

    # The course's own tests follow the course, after the one documented command.
    env = {**os.environ, "PYTHONPATH": str(root)}
    recorded = subprocess.run(
        [sys.executable, "tests/e2e/test_stub_grades_unchanged.py", "--add-new"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=root,
        env=env,
    )
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    stubs = json.loads((root / "tests" / "fixtures" / "stub_grades_seed1.json").read_text("utf-8"))
    assert stubs[f"exercises/{NAME}/exercise.py"]["max_score"] == 4.0
    suite = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e/test_student_readme.py",
            "tests/e2e/test_stub_grades_unchanged.py",
            "tests/unit/test_course.py",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=root,
        env=env,
    )
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    assert re.search(r"\d+ passed", suite.stdout), suite.stdout


def test_a_new_course_verifies_and_grades_at_once(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    made = _grade(empty, "new", "course", "autograd-two", "--title", "Autograd, part two")
    assert made.returncode == 0, made.stdout + made.stderr
    course = empty / "autograd-two"
    assert 'title = "Autograd, part two"' in (course / "course.toml").read_text(encoding="utf-8")
    for name in (
        "README.md",
        "templates/student-README.md",
        "ci-templates/github-actions/grade.yml",
    ):
        assert (course / name).is_file(), name
    assert not list(course.rglob("grader")), "the course uses the installed grader"

    verified = _grade(course, "verify", "--seed", "1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "01_square_grad: solution 4/4, stub 0/4, 4/4 mistakes caught, ok" in verified.stdout
    graded = _grade(course, "01", "--seed", "1", "--html", str(tmp_path / "r.html"))
    assert graded.returncode == 1, graded.stdout + graded.stderr
    assert re.search(r"^total\s+0/4$", graded.stdout, flags=re.M), graded.stdout
    assert "still raises NotImplementedError" in graded.stdout

    # Its student copy: the students' README, listing the example exercise.
    released = _grade(course, "release", str(tmp_path / "student"))
    assert released.returncode == 0, released.stdout + released.stderr
    readme = (tmp_path / "student" / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# Autograd, part two\n")
    assert "- `grade 01`: [The gradient of a sum of squares]" in readme
    assert not (tmp_path / "student" / "solutions").exists()

    # Not over a course: the folder must be new or empty.
    again = _grade(empty, "new", "course", "autograd-two")
    assert again.returncode == 2 and "is not empty" in again.stderr
