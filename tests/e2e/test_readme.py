"""The README is the user's manual: its commands must do what it says."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GRADE = shutil.which("grade")


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def test_setup_command_pins_torch_and_grades_an_exercise() -> None:
    setup = _blocks()[0].strip()
    assert "torch==2.13.0" in setup
    assert setup.endswith("grade exercises/01")


def test_test_command_is_the_one_ci_runs() -> None:
    test_command = _blocks()[1].strip()
    run = test_command.split("&&")[-1].strip()
    assert run.startswith("python3 -m pytest")
    assert f"\n{run}\n" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_grade_exercises_01_does_what_the_readme_says(tmp_path: Path) -> None:
    # "grades the untouched stub, so it scores 0/10 and exits 1"
    assert GRADE, "the grade command is not installed (pip install -e .)"
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", "reports", "tests"))
    done = subprocess.run(
        [GRADE, "exercises/01", "--seed", "1"],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert re.search(r"^total\s+0/10$", done.stdout, flags=re.M), done.stdout
    assert (course / "reports" / "01_leaf_tensors.html").is_file()


def test_every_grade_command_in_the_readme_exists() -> None:
    from grader.cli import cli

    used = set(re.findall(r"^grade ([a-z]+)(?=\s|$)", README, flags=re.M))
    for word in used:
        assert word in cli.commands, word
