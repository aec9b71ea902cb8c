"""Drive the real ``grade`` command on fixture submissions, writing only under tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from grader.score.results import WRITTEN_EXERCISE_KEYS

COURSE = Path(__file__).resolve().parents[2]
SUBMISSIONS = COURSE / "tests" / "fixtures" / "submissions"
GRADE = shutil.which("grade")
# The keys of one exercise record in results.json: the typed record's, plus its message.
EXERCISE_KEYS = WRITTEN_EXERCISE_KEYS

# The sandbox's guarantees hold on Linux in every deployment (root, a container, an
# ordinary user with or without user namespaces); elsewhere only limits apply.
confined_only = pytest.mark.skipif(
    sys.platform != "linux", reason="the sandbox's guarantees are Linux's (SECURITY.md)"
)


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # A token in the grader's environment, as CI secrets are: no child may see it.
    env["GRADER_TEST_TOKEN"] = "token-the-submission-must-never-see"
    # Outside CI's own variables the summary is printed as is.
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    return env


@pytest.fixture
def run_grade(tmp_path: Path):
    """Return ``run(*args, timeout=..., cwd=...)`` -> (exit code, stdout, stderr).

    Every run gets ``--seed 1`` and an HTML report under tmp_path (never the
    course's reports/); no run may end in a Python traceback.
    """
    if GRADE is None:
        pytest.fail("the grade command is not on PATH (pip install -e .)")

    def run(*args: str, timeout: float = 120, cwd: Path | None = None, html: bool = True) -> Run:
        argv = [GRADE, *map(str, args), "--seed", "1"]
        if html:
            argv += ["--html", str(tmp_path / "r.html")]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or COURSE,
            env=_environment(),
            errors="replace",
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Run(done.returncode, done.stdout, done.stderr)

    return run


def without_intake_table(stderr: str) -> list[str]:
    """Return the lines of stderr other than the table ``grade batch`` prints before grading."""
    lines = stderr.strip().splitlines()
    if lines and lines[0].startswith("grade: found "):
        lines = lines[1:]
        while lines and lines[0].startswith("  "):
            lines = lines[1:]
    return lines


def results(path: Path) -> dict[str, Any]:
    """Read a results.json written by ``--json``."""
    return json.loads(path.read_text(encoding="utf-8"))


def only_exercise(path: Path) -> dict[str, Any]:
    """Return the one exercise of the one student in a results.json."""
    document = results(path)
    (student,) = document["students"]
    (exercise,) = student["exercises"]
    return exercise


def failed_messages(exercise: dict[str, Any]) -> str:
    """Join the hints of every failed check (and the exercise's own message)."""
    parts = [exercise["message"]]
    parts += [c["message"] for c in exercise["checks"] if not c["passed"]]
    return "\n".join(parts)


@pytest.fixture
def marker() -> str:
    """A string unique to this test: in file names and command lines the attack leaves."""
    return f"grader-e2e-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hostile(tmp_path: Path, marker: str):
    """Return ``make(name, **placeholders)``: a hostile fixture written under tmp_path.

    The child's environment is cleaned, so what an attack needs (the course
    root, where to look, a port) is written into its text instead.
    """

    def make(name: str, **extra: Any) -> Path:
        text = (SUBMISSIONS / "hostile" / name).read_text(encoding="utf-8")
        values = {"__MARKER__": marker, "__COURSE__": str(COURSE), "__OUT__": str(tmp_path)}
        values.update({f"__{k.upper()}__": str(v) for k, v in extra.items()})
        for key, value in values.items():
            text = text.replace(key, value)
        target = tmp_path / "submission" / name
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    return make


def processes_with(text: str, grace: float = 3.0) -> list[tuple[int, str]]:
    """Return the processes whose command line contains ``text``, after up to ``grace`` s.

    A pid namespace is torn down by the kernel right after its first process
    dies; the grace period only covers that, not a process left running.
    """
    deadline = time.monotonic() + grace
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                )
            except OSError:
                continue
            if text in cmdline:
                found.append((int(entry.name), cmdline))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def course_copy(tmp_path: Path):
    """Return ``make(exercise_file=None)``: a copy of the course without solutions.

    ``exercise_file`` replaces exercise 01's stub (as a student would edit it);
    ``solutions=True`` copies the reference solutions too (an instructor's copy).
    """

    def make(
        exercise_file: Path | None = None, name: str = "exercise.py", solutions: bool = False
    ) -> Path:
        root = tmp_path / "course"
        root.mkdir()
        shutil.copy(COURSE / "course.toml", root)
        for folder in ("exercises", "checks", "templates") + ("solutions",) * solutions:
            shutil.copytree(
                COURSE / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
        if exercise_file is not None:
            stub = root / "exercises" / "01_leaf_tensors" / "exercise.py"
            stub.unlink()
            shutil.copy(exercise_file, stub.with_name(name))
        return root

    return make
