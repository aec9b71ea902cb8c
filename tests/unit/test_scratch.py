"""The scratch folders: removed whatever the submission left, swept after a crashed grader."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
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


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/fd")

# A child that keeps deleted files open: one unlinked, one nameless (O_TMPFILE), the first
# opened twice (counted once), and a named file beside them (its folder's count, not this).
_HOLDER = """
import os, sys
folder = sys.argv[1]
a = os.open(os.path.join(folder, "a"), os.O_CREAT | os.O_RDWR, 0o600)
os.write(a, b"x" * 2**20)
os.dup(a)
os.unlink(os.path.join(folder, "a"))
try:
    b = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(b, b"y" * 2**20)
except OSError:
    b = None
kept = os.open(os.path.join(folder, "kept"), os.O_CREAT | os.O_RDWR, 0o600)
os.write(kept, b"z" * 2**20)
print("tmpfile" if b is not None else "no tmpfile", flush=True)
sys.stdin.read()
"""


@linux_only
def test_deleted_files_a_process_holds_open_are_counted_once_each(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        files = 2 if child.stdout and child.stdout.readline().strip() == "tmpfile" else 1
        held = scratch.held_open(child.pid)
        assert held is not None
        # Blocks, not lengths: a file system may allocate a little more than written.
        assert files * 2**20 <= held < (files + 1) * 2**20, held
    finally:
        child.communicate("")
    assert scratch.held_open(child.pid) == 0  # gone (and reaped): it holds nothing


def _others_process() -> bool:
    try:
        return os.geteuid() != 0 and os.stat("/proc/1").st_uid != os.geteuid()
    except OSError:
        return False


@linux_only
@pytest.mark.skipif(not _others_process(), reason="needs a process this user may not read")
def test_a_descriptor_table_the_judge_cannot_read_is_over_any_bound() -> None:
    # pid 1 is another user's (root's): an ordinary user may not list its descriptors.
    assert scratch.held_open(1) is None


# Stands for a child: answers its first request at once, then fills its scratch folder
# (a file kept, a file deleted and held open) and answers the second.
_FILLER = """
import os, sys
folder, deleted = sys.argv[1], sys.argv[2] == "deleted"
sys.stdin.readline()
print('{"sandbox": {"namespaces": false}}', flush=True)
sys.stdin.readline()
fd = os.open(os.path.join(folder, "held"), os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"x" * 3 * 2**20)
if deleted:
    os.unlink(os.path.join(folder, "held"))
print('{"ok": true}', flush=True)
sys.stdin.readline()
"""


@linux_only
@pytest.mark.parametrize("how", ["kept", "deleted"])
def test_a_child_that_fills_its_files_between_two_counts_is_ended_at_its_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from grader.run.executors import Limits, sandboxed
    from grader.run.executors.base import ScratchFull

    monkeypatch.setattr(sandboxed, "SCRATCH_EVERY", 3600.0)  # the watch never counts
    child = subprocess.Popen(
        [sys.executable, "-c", _FILLER, str(tmp_path), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    session = sandboxed.PipeSession(
        child.stdin,
        child.stdout,
        child.stderr,
        Limits(memory=4 * 2**20),  # 2 MiB of files allowed: the child holds 3
        deadline=time.monotonic() + 30,
        kill=child.kill,
        wait=lambda timeout: child.wait(timeout),
        scratch=str(tmp_path),
        holder=(child.pid, None),
    )
    try:
        assert session.request({"op": "hello"})["sandbox"] == {"namespaces": False}
        with pytest.raises(ScratchFull) as ended:
            session.request({"op": "call"})
        assert "MiB in files" in str(ended.value)
    finally:
        session.close()


@linux_only
def test_a_child_that_exited_holds_nothing_though_its_folder_is_roots_now() -> None:
    # An exiting process (or a zombie not yet reaped) has given up its memory; the
    # kernel shows its /proc folder as root's, which an ordinary user may not list.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while not scratch._exiting(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert scratch._exiting(child.pid)
        assert scratch.held_open(child.pid) == 0
    finally:
        child.wait()
