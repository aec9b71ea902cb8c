"""The student copy's README is written for students, and its commands work in that copy."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import COURSE

from grader.authoring.release import release
from grader.course.find import Course


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "student"
    release(COURSE, dest)
    return dest


def test_the_released_readme_names_nothing_the_copy_lacks(released: Path) -> None:
    readme = (released / "README.md").read_text(encoding="utf-8")
    assert not (released / "solutions").exists()
    assert "solutions/" not in readme
    assert "grade verify" not in readme
    assert "pytest" not in readme and "grade batch" not in readme
    assert "$" not in readme.replace("$ ", "")  # every placeholder was filled
    # Every exercise is listed, with a link that exists in the copy.
    for link in re.findall(r"\]\((exercises/[^)]+)\)", readme):
        assert (released / link).is_file(), link
    # As many as the course has: its exercises come from the course, not from this test.
    listed = re.findall(r"^- `grade (\d+)`: \[", readme, flags=re.M)
    assert listed == [e.number for e in Course.load(released).exercises]


def test_the_released_readme_tells_both_ways(released: Path) -> None:
    readme = (released / "README.md").read_text(encoding="utf-8")
    assert "from grader.notebook import check" in readme
    assert "--watch" in readme
    for exercise in sorted((released / "exercises").iterdir()):
        text = (exercise / "README.md").read_text(encoding="utf-8")
        assert f"grade {exercise.name[:2]}" in text and "check(" in text, exercise.name


def test_the_released_readme_commands_work_in_the_copy(released: Path, run_grade) -> None:
    readme = (released / "README.md").read_text(encoding="utf-8")
    commands = [
        line
        for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
        for line in block.splitlines()
        if line.startswith("grade ") or line == "grade"
    ]
    assert len(commands) >= 3, commands
    for command in commands:
        done = run_grade(*shlex.split(command)[1:], cwd=released)
        # The stubs are untouched: every exercise graded, none at full marks.
        assert done.code == 1, (command, done.stderr)
        # `--lang zh` says "total" in Chinese too.
        assert re.search(r"^(total|总分)\s+0/\d+$", done.stdout, flags=re.M), (command, done.stdout)
