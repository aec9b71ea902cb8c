"""The scratch folders: removed whatever the submission left, swept after a crashed grader."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from grader.run.executors import scratch

posix_only = pytest.mark.skipif(os.name != "posix", reason="modes and descriptors are POSIX")


@posix_only
def test_a_tree_deeper_than_the_recursion_limit_and_locked_is_removed(tmp_path: Path) -> None:
    top = tmp_path / "scratch"
    top.mkdir()
    here = os.getcwd()
    os.chdir(top)
    try:
        for _ in range(max(1200, sys.getrecursionlimit() + 200)):
            os.mkdir("d")
            os.chdir("d")
        Path("id").write_bytes(b"#!/bin/sh\n")
        os.chmod("id", 0o4755)
        os.symlink(str(tmp_path / "outside"), "link")  # never followed
    finally:
        os.chdir(here)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "kept").write_text("not the submission's", encoding="utf-8")
    os.chmod(top / "d" / "d", 0)
    scratch.remove_tree(str(top))
    assert not top.exists()
    assert (tmp_path / "outside" / "kept").exists()


@posix_only
def test_a_crashed_graders_scratch_is_swept_and_a_living_ones_kept(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = tmp_path / f"grade-scratch-{int(gone.stdout)}-abc"
    (dead / "child").mkdir(parents=True)
    (dead / "child" / "file").write_text("left by a kill -9", encoding="utf-8")
    alive = tmp_path / f"grade-scratch-{os.getppid()}-abc"
    alive.mkdir()
    other = tmp_path / "grade-scratch-old_style"
    other.mkdir()
    scratch._sweep(str(tmp_path))
    assert not dead.exists()
    assert alive.exists() and other.exists()


@posix_only
def test_each_child_gets_its_own_folder_inside_the_graders(tmp_path: Path) -> None:
    first, second = scratch.make_scratch(), scratch.make_scratch()
    try:
        assert first != second
        assert os.path.dirname(first) == os.path.dirname(second)
        assert os.path.basename(os.path.dirname(first)).startswith(f"grade-scratch-{os.getpid()}-")
        assert stat.S_IMODE(os.stat(first).st_mode) == 0o700
    finally:
        scratch.remove_scratch(first)
        scratch.remove_scratch(second)
    assert not os.path.exists(first)


@posix_only
def test_a_folder_whose_lock_is_held_is_never_left_behind_whatever_its_pid(
    tmp_path: Path,
) -> None:
    import fcntl

    # A pid no process of this namespace has: a grader in another container's.
    held = tmp_path / "grade-scratch-999999999-abc"
    free = tmp_path / "grade-scratch-999999998-abc"
    for folder in (held, free):
        folder.mkdir()
        (folder / ".owner").touch()
    owner = os.open(held / ".owner", os.O_RDWR)
    try:
        fcntl.flock(owner, fcntl.LOCK_EX)
        assert scratch.left_behind(str(tmp_path)) == [str(free)]
    finally:
        os.close(owner)
    assert sorted(scratch.left_behind(str(tmp_path))) == [str(free), str(held)]


@posix_only
def test_what_a_scratch_folder_holds_is_counted_at_any_depth(tmp_path: Path) -> None:
    top = tmp_path / "scratch"
    top.mkdir()
    folder = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(max(1200, sys.getrecursionlimit() + 200)):
        os.mkdir("d", dir_fd=folder)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
        os.close(folder)
        folder = inner
    file = os.open("held", os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=folder)
    os.write(file, os.urandom(1024**2))
    os.close(file)
    os.close(folder)
    (top / "link").symlink_to(tmp_path)  # never followed: the grader's folder is not counted
    try:
        size = scratch.held(str(top))
        assert size is not None and size >= 1024**2
        assert scratch.held(str(tmp_path / "none")) == 0
    finally:
        # pytest's own clean-up of old temporary folders recurses: a tree this deep left
        # behind made a later pytest run end in RecursionError.
        scratch.remove_tree(str(top))


@posix_only
def test_a_scratch_folder_too_full_to_count_is_over_any_bound(tmp_path: Path) -> None:
    for n in range(30):
        (tmp_path / f"f{n}").write_bytes(b"")
    assert scratch.held(str(tmp_path), most=20) is None
    assert scratch.held(str(tmp_path), most=40) == 0
