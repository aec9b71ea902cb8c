"""A student's repository, made from the released copy, stays clean after set-up and grading.

The set-up is the one the student README gives, run offline: a virtual
environment that sees this Python's packages (torch is not downloaded again)
and an editable install of the copy, then a grade.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import COURSE

from grader.authoring.release import release

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Student", "-c", "user.email=s@example.org", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_git_status_of_a_released_copy_after_set_up_shows_nothing_untracked(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "student"
    release(COURSE, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the course as released")
    # The README's set-up, with the packages already here instead of the network's.
    venv = repo / ".venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    # This pip, installing into the venv: the venv's own bundled setuptools may predate
    # the one pyproject.toml asks for, and nothing may be fetched.
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    install += ["--no-deps", "--no-build-isolation", "-e", "."]
    subprocess.run(install, cwd=repo, check=True, timeout=300, capture_output=True)
    # What older setuptools and Jupyter leave beside the code, made here by hand.
    (repo / "autograd_grader.egg-info").mkdir(exist_ok=True)
    (repo / "autograd_grader.egg-info" / "PKG-INFO").write_text("Name: autograd-grader\n")
    checkpoints = repo / "exercises" / "01_leaf_tensors" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "exercise-checkpoint.ipynb").write_text("{}\n")
    done = subprocess.run(
        [python.with_name("grade"), "01", "--seed", "1"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # the untouched stub
    assert (repo / "reports" / "01_leaf_tensors.html").is_file()
    assert list((repo / "grader").glob("__pycache__/*.pyc"))  # the grader's own bytecode
    assert _git(repo, "status", "--porcelain", "--untracked-files=all") == ""
