"""Release a tiny course, then try to sneak its solution into the student copy."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from grader.authoring.release import ReleaseError, release

REPO = Path(__file__).resolve().parents[2]

SOLUTION = '''\
"""Reference solution: never shipped."""

import torch


def grad_of_cube(x0: float) -> float:
    """Return d/dx x**3 at x0, computed by autograd."""
    x = torch.tensor(x0, requires_grad=True)
    y = x**3
    y.backward()
    return x.grad.item()
'''

STUB = '''\
"""Exercise 01: your first gradient."""

import torch


def grad_of_cube(x0: float) -> float:
    """Return d/dx x**3 at x0, computed by autograd."""
    raise NotImplementedError("write grad_of_cube")
'''

# The solution with every local renamed and its docstring and comments changed.
RENAMED = '''\
import torch


def grad_of_cube(value):
    """Different words, same code."""
    t = torch.tensor(value, requires_grad=True)
    out = t**3  # cube it
    out.backward()
    return t.grad.item()
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    _write(root / "course.toml", 'title = "tiny"\n')
    _write(root / "README.md", "# Tiny course\n")
    _write(root / "exercises/01_x/exercise.py", STUB)
    _write(root / "exercises/01_x/README.md", "Compute a gradient with `backward()`.\n")
    _write(root / "solutions/01_x/solution.py", SOLUTION)
    _write(
        root / "solutions/01_x/mistakes/no_backward.py",
        "# mistake: forgot backward\n# caught-by: test_a\n",
    )
    _write(root / "checks/01_x/test_a.py", "def test_a(submission):\n    assert submission\n")
    _write(root / "checks/01_x/exercise.toml", 'title = "x"\n')
    _write(root / "grader/__init__.py", "")
    _write(root / "tests/unit/test_me.py", "def test_me():\n    pass\n")
    _write(root / "benchmarks/bench.py", "")
    _write(root / ".ci/run", "pytest\n")
    _write(root / ".git/HEAD", "ref: refs/heads/main\n")
    _write(root / "reports/alice.html", "<p>alice</p>\n")
    _write(root / "exercises/01_x/__pycache__/exercise.cpython-311.pyc", "")
    _write(root / "exercises/01_x/.ipynb_checkpoints/exercise-checkpoint.py", SOLUTION)
    _write(root / "grader/stale.pyc", "")
    return root


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _notebook(*cells: tuple[str, str]) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
                for kind, source in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_release_ships_the_student_part_only(course: Path, tmp_path: Path) -> None:
    dest = tmp_path / "student"
    written = release(course, dest)
    assert written == sorted(_files(dest))
    assert set(written) == {
        ".gitignore",
        "README.md",
        "checks/01_x/exercise.toml",
        "checks/01_x/test_a.py",
        "course.toml",
        "exercises/01_x/README.md",
        "exercises/01_x/exercise.py",
        "grader/__init__.py",
    }
    assert (dest / "exercises/01_x/exercise.py").read_text() == STUB


def test_release_keeps_file_modes(course: Path, tmp_path: Path) -> None:
    script = course / "grader/run.sh"
    _write(script, "#!/bin/sh\n")
    script.chmod(0o755)
    release(course, tmp_path / "student")
    assert os.access(tmp_path / "student/grader/run.sh", os.X_OK)
    assert (tmp_path / "student/course.toml").stat().st_mode & 0o044  # others can read


def test_release_into_an_existing_empty_folder(course: Path, tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    assert "course.toml" in release(course, dest)


def test_release_refuses_a_non_empty_destination(course: Path, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    _write(dest / "keep.txt", "mine")
    with pytest.raises(ReleaseError, match="not an empty folder"):
        release(course, dest)
    assert _files(dest) == {"keep.txt"}


def test_release_refuses_a_destination_inside_the_course(course: Path) -> None:
    with pytest.raises(ReleaseError, match="inside the course"):
        release(course, course / "exercises" / "release")
    assert not (course / "exercises" / "release").exists()


def test_release_refuses_a_folder_without_course_toml(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="course.toml"):
        release(tmp_path, tmp_path.parent / "nowhere")


def _assert_refused(course: Path, dest: Path, *words: str) -> None:
    with pytest.raises(ReleaseError) as info:
        release(course, dest)
    for word in words:
        assert word in str(info.value)
    assert not dest.exists()


def test_refuses_a_stub_holding_the_solution_verbatim(course: Path, tmp_path: Path) -> None:
    _write(course / "exercises/01_x/exercise.py", SOLUTION)
    _assert_refused(
        course,
        tmp_path / "student",
        "exercises/01_x/exercise.py",
        "grad_of_cube",
        "solutions/01_x/solution.py",
    )


def test_refuses_the_solution_with_renamed_variables(course: Path, tmp_path: Path) -> None:
    _write(course / "exercises/01_x/exercise.py", RENAMED)
    _assert_refused(course, tmp_path / "student", "exercises/01_x/exercise.py", "body of")


def test_refuses_the_solution_under_another_name(course: Path, tmp_path: Path) -> None:
    _write(course / "checks/01_x/conftest.py", RENAMED.replace("grad_of_cube", "reference"))
    _assert_refused(course, tmp_path / "student", "checks/01_x/conftest.py", "reference")


def test_refuses_the_solution_pasted_into_a_notebook(course: Path, tmp_path: Path) -> None:
    notebook = _notebook(("markdown", "# Try it\n"), ("code", "%matplotlib inline\n" + RENAMED))
    _write(course / "exercises/01_x/exercise.ipynb", notebook)
    _assert_refused(course, tmp_path / "student", "exercises/01_x/exercise.ipynb", "body of")


def test_refuses_solution_lines_pasted_into_text(course: Path, tmp_path: Path) -> None:
    readme = (
        "Hint:\n\n```python\n"
        "    x = torch.tensor(x0, requires_grad=True)\n"
        "    y = x**3\n\n"
        "    y.backward()\n```\n"
    )
    _write(course / "docs/hints.md", readme)
    _assert_refused(course, tmp_path / "student", "docs/hints.md", "copied from")


def test_refuses_solution_lines_in_a_notebook_markdown_cell(course: Path, tmp_path: Path) -> None:
    cell = "```python\nx = torch.tensor(x0, requires_grad=True)\ny = x**3\ny.backward()\n```"
    _write(course / "exercises/01_x/exercise.ipynb", _notebook(("markdown", cell)))
    _assert_refused(course, tmp_path / "student", "exercise.ipynb", "copied from")


def test_refusal_leaves_a_pre_existing_empty_destination_empty(
    course: Path, tmp_path: Path
) -> None:
    _write(course / "exercises/01_x/exercise.py", SOLUTION)
    dest = tmp_path / "empty"
    dest.mkdir()
    with pytest.raises(ReleaseError):
        release(course, dest)
    assert dest.is_dir() and not any(dest.iterdir())


def test_shared_imports_and_docstrings_are_not_leaks(course: Path, tmp_path: Path) -> None:
    # Stub and solution share imports, constants, signatures and docstrings on purpose.
    header = "import math\nimport torch\nfrom torch import nn\n\nSEED = 0\nN = 5\nLR = 0.1\n"
    _write(course / "exercises/01_x/exercise.py", header + STUB.split("import torch\n")[1])
    _write(course / "solutions/01_x/solution.py", header + SOLUTION.split("import torch\n")[1])
    assert "exercises/01_x/exercise.py" in release(course, tmp_path / "student")


def test_refuses_an_unparsable_solution(course: Path, tmp_path: Path) -> None:
    _write(course / "solutions/01_x/solution.py", "def broken(:\n")
    _assert_refused(course, tmp_path / "student", "solutions/01_x/solution.py", "does not parse")


def test_refuses_a_symlink_into_the_solutions(course: Path, tmp_path: Path) -> None:
    link = course / "exercises/01_x/hint.py"
    link.symlink_to(course / "solutions/01_x/solution.py")
    _assert_refused(course, tmp_path / "student", "exercises/01_x/hint.py", "symlink")


# --- CI templates ----------------------------------------------------------

KNOWN_COMMANDS = {"pip", "python", "python3", "grade", "mkdir", "echo", "cat", "test", "ls", "sudo"}


def test_github_workflow_runs_only_known_commands() -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / "ci-templates/github-actions/grade.yml").read_text())
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"push", "pull_request"}
    job = workflow["jobs"]["grade"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    uses = [step["uses"].split("@")[0] for step in steps if "uses" in step]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    setup_python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup_python["with"]["python-version"]) == "3.11"
    commands = [
        line.strip()
        for step in steps
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]
    assert commands, "the workflow runs nothing"
    for command in commands:
        assert shlex.split(command)[0] in KNOWN_COMMANDS, command
    assert any(c.startswith("pip install -e .") for c in commands)
    assert any(c.startswith("pip install torch==2.13.0 --index-url") for c in commands)
    grade = shlex.split(next(c for c in commands if c.startswith("grade ")))
    for flag in ("--junit", "--json", "--html", "--github-summary", "--min-score"):
        assert flag in grade
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "reports"


def test_gradescope_scripts_are_valid_bash() -> None:
    for name in ("setup.sh", "run_autograder"):
        script = REPO / "ci-templates/gradescope" / name
        assert os.access(script, os.X_OK), f"{name} must be executable"
        subprocess.run(["bash", "-n", str(script)], check=True)


def _fake_autograder(tmp_path: Path, grade_script: str) -> tuple[Path, dict[str, str]]:
    """Lay out /autograder under tmp_path with a fake `grade` on PATH."""
    root = tmp_path / "autograder"
    _write(root / "source/course.toml", 'title = "tiny"\n')
    _write(root / "source/exercises/01_x/exercise.py", STUB)
    _write(root / "source/exercises/02_y/exercise.py", STUB)
    _write(root / "source/checks/01_x/test_a.py", "def test_a():\n    pass\n")
    bin_dir = tmp_path / "bin"
    _write(bin_dir / "grade", "#!/usr/bin/env bash\n" + grade_script)
    (bin_dir / "grade").chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return root, env


def _run_autograder(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = REPO / "ci-templates/gradescope/run_autograder"
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)


def test_run_autograder_grades_only_the_exercise_files(tmp_path: Path) -> None:
    # The fake grade records what the course copy looks like when it runs.
    root, env = _fake_autograder(
        tmp_path,
        'find . -type f | sort > "$AUTOGRADER_ROOT/seen.txt"\n'
        'cat exercises/01_x/exercise.py > "$AUTOGRADER_ROOT/graded.py"\n'
        'echo \'{"score": 1, "tests": []}\' > "${@: -1}"\n',
    )
    _write(root / "submission/exercises/01_x/exercise.py", "ANSWER = 1\n")
    _write(root / "submission/exercises/01_x/notes.txt", "not copied\n")
    _write(root / "submission/checks/01_x/test_a.py", "def test_a():\n    pass  # forged\n")
    _write(root / "submission/course.toml", "forged = true\n")
    (root / "submission/02_y").mkdir(parents=True)
    (root / "submission/02_y/exercise.py").symlink_to(root / "source/checks/01_x/test_a.py")
    done = _run_autograder(env)
    assert done.returncode == 0, done.stderr
    assert (root / "graded.py").read_text() == "ANSWER = 1\n"
    seen = (root / "seen.txt").read_text().split()
    assert "./exercises/01_x/notes.txt" not in seen
    assert "./exercises/02_y/exercise.py" not in seen  # a symlink, and the stub is gone
    assert json.loads((root / "results/results.json").read_text())["score"] == 1
    assert "forged" not in (root / "source/course.toml").read_text()


def test_run_autograder_accepts_flat_notebooks(tmp_path: Path) -> None:
    root, env = _fake_autograder(
        tmp_path,
        'ls exercises/02_y > "$AUTOGRADER_ROOT/seen.txt"\necho {} > "${@: -1}"\n',
    )
    _write(root / "submission/02_y.ipynb", _notebook(("code", "ANSWER = 2\n")))
    assert _run_autograder(env).returncode == 0
    assert (root / "seen.txt").read_text().split() == ["exercise.ipynb"]


def test_run_autograder_always_leaves_results(tmp_path: Path) -> None:
    root, env = _fake_autograder(tmp_path, "echo boom >&2\nexit 3\n")
    done = _run_autograder(env)
    assert done.returncode == 0
    results = json.loads((root / "results/results.json").read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "status 3" in results["output"]


def test_run_autograder_refuses_to_run_a_submission_half_confined(tmp_path: Path) -> None:
    # Gradescope's container: the submission must not run where it could write results.json.
    root, env = _fake_autograder(tmp_path, 'echo "$@" > "$AUTOGRADER_ROOT/args.txt"\nexit 2\n')
    done = _run_autograder(env)
    assert done.returncode == 0, done.stderr
    assert "--require-sandbox" in (root / "args.txt").read_text().split()
    assert "could not grade" in json.loads((root / "results/results.json").read_text())["output"]
