"""Make and remove the private folders children write in when they get no mount namespace.

Each grader process keeps its children's scratch folders inside one folder
of its own in the system's temporary folder, ``grade-scratch-<pid>-...``:
removed when the process ends, and swept by the next grader when a crash or
a ``kill -9`` left it behind. Removal assumes the submission shaped the tree
to resist it: it walks without recursion (a tree 1,200 deep), never follows
a link, restores the modes a submission took away, and holds one folder open
at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "make_scratch",
    "remove_scratch",
    "remove_tree",
    "held",
    "held_open",
    "MOST_ENTRIES",
    "left_behind",
]

# Files and folders a scratch folder may hold before the judge stops counting them:
# an honest submission writes a handful, and each entry costs the judge a stat.
MOST_ENTRIES = 20_000

_PREFIX = "grade-scratch-"
_OWN = re.compile(rf"^{_PREFIX}(\d+)-")
_lock = threading.Lock()
_folder: tuple[int, str] | None = None  # (pid, path): a forked process makes its own
# Each grader holds a lock on a file in its folder for as long as it lives. A pid alone
# cannot tell: a grader in another pid namespace (pid 1 of a container sharing /tmp)
# sees no such pid and would remove a live grader's folder from under it.
_OWNER = ".owner"
_owners: list[int] = []
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def make_scratch() -> str:
    """Make the private folder a child may write in when it gets no mount namespace."""
    return tempfile.mkdtemp(dir=_grader_folder())


def remove_scratch(path: str) -> None:
    """Remove a child's scratch folder, whatever the submission left in it."""
    remove_tree(path)


def _grader_folder() -> str:
    global _folder
    with _lock:
        if _folder is None or _folder[0] != os.getpid():
            _sweep(tempfile.gettempdir())
            # Made under another name, locked, then renamed: a sweeping grader never sees
            # this folder without its lock.
            making = tempfile.mkdtemp(prefix=f".{_PREFIX}{os.getpid()}-")
            owner = os.open(
                os.path.join(making, _OWNER), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600
            )
            fcntl.flock(owner, fcntl.LOCK_EX)
            _owners.append(owner)  # held while this process (or a fork of it) lives
            path = os.path.join(os.path.dirname(making), os.path.basename(making)[1:])
            os.rename(making, path)
            if os.name == "posix" and os.geteuid() == 0:
                # A child of its own uid must reach its folder inside; nobody may list it.
                os.chmod(path, 0o711)
            _folder = (os.getpid(), path)
            atexit.register(_remove_own, path)
            # A pool's worker process may end by os._exit, after multiprocessing's own
            # finalizers but without atexit: removed there too.
            from multiprocessing import util

            util.Finalize(None, _remove_own, args=(path,), exitpriority=0)
        return _folder[1]


def _remove_own(path: str) -> None:
    # A forked process inherits its parent's exit hooks; once it has a folder of its own,
    # the pid alone would match and it would remove the parent's folder from under it.
    if _folder == (os.getpid(), path):
        remove_tree(path)


def left_behind(temporary: str | None = None) -> list[str]:
    """Return the folders graders that ended without cleaning up left in ``temporary``.

    A live grader's folder is never among them, whatever its pid: its lock is held.
    """
    temporary = temporary or tempfile.gettempdir()
    try:
        names = os.listdir(temporary)
    except OSError:
        return []
    found = []
    for name in names:
        own = _OWN.match(name)
        path = os.path.join(temporary, name)
        if own and not _held(path, int(own.group(1))):
            found.append(path)
    return found


def _sweep(temporary: str) -> None:
    """Remove what graders that ended without cleaning up (a crash, ``kill -9``) left here."""
    for path in left_behind(temporary):
        try:
            mine = os.lstat(path).st_uid == os.geteuid() if os.name == "posix" else True
        except OSError:
            continue
        if mine:  # another user's leftovers are theirs to remove (and a sticky /tmp says so)
            remove_tree(path)


def _held(path: str, pid: int) -> bool:
    """Say whether the grader that made ``path`` still lives (its lock is held)."""
    try:
        owner = os.open(os.path.join(path, _OWNER), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return _alive(pid)  # a folder of a grader from before the lock: its pid tells
    except OSError:
        return True  # not ours to judge
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(owner)
    return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it, iteratively, never following a link.

    A submission may leave a tree deeper than Python's recursion limit, paths
    longer than ``PATH_MAX``, folders of mode 000, and files of any mode: the
    walk goes by descriptors relative to one open folder, climbs back by
    ``..``, and keeps only names on its stack.
    """
    if os.name != "posix":
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        return
    parent, top = os.path.split(os.path.abspath(path))
    try:
        fd = os.open(parent, _OPEN_DIR)
    except OSError:
        return
    # The stack holds, per open level, the name of the folder we are in and the
    # names of its subfolders still to visit.
    stack: list[tuple[str, list[str]]] = []
    pending = [top]
    try:
        while True:
            if pending:
                name = pending.pop()
                inner = _enter(fd, name)
                if inner is None:
                    _unlink(fd, name)  # not a folder (or gone): a file, a link
                    continue
                stack.append((name, pending))
                os.close(fd)
                fd = inner
                pending = _empty_of_files(fd)
                continue
            if not stack:
                return
            name, pending = stack.pop()
            up = os.open("..", _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = up
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                pass
    except OSError:
        return  # the tree changed under us (it cannot, once the child is dead): stop
    finally:
        os.close(fd)


def held(path: str, most: int = MOST_ENTRIES) -> int | None:
    """Return the bytes the files under ``path`` take; None when they cannot be counted.

    The folder's child may be writing while this counts: an entry that vanishes
    is skipped. More than ``most`` entries, or a folder the grader cannot open
    (its modes taken away), cannot be counted, and the judge takes that as over
    any bound. Walks as ``remove_tree`` does: one folder open at a time, back up
    by ``..``, so a tree deeper than the recursion limit is counted too.
    """
    if os.name != "posix":
        return 0
    try:
        fd = os.open(path, _OPEN_DIR)
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    counted = [0, 0]  # bytes, entries
    stack: list[list[str]] = []
    try:
        pending = _count(fd, counted, most)
        while True:
            if pending:
                name = pending.pop()
                try:
                    inner = os.open(name, _OPEN_DIR, dir_fd=fd)
                except FileNotFoundError:
                    continue  # removed by the child while this counted
                stack.append(pending)
                os.close(fd)
                fd = inner
                pending = _count(fd, counted, most)
                continue
            if not stack:
                return counted[0]
            pending = stack.pop()
            up = os.open("..", _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = up
    except (PermissionError, _TooMany):
        return None
    except OSError:
        return counted[0]  # the tree changed under the walk: what was counted so far
    finally:
        os.close(fd)


def held_open(pid: int, owner: tuple[int, int] | None = None) -> int | None:
    """Return the bytes of deleted files process ``pid`` holds open; None when hidden.

    A file the child unlinks while it keeps it open (or makes with ``O_TMPFILE``)
    is in no folder ``held`` walks, yet it holds disk or memory for as long as the
    child lives. The child cannot start processes (seccomp), so its own descriptor
    table is all there is. A table the judge cannot read is taken as over any
    bound: a dumpable child's is readable, and only the child can make it not.
    ``owner``, the child's own uid and gid where the judge is root, are the file
    system ids the table is read with when root lacks ``CAP_SYS_PTRACE`` (a
    container): the kernel lets a reader whose ids match the child's in.
    """
    if not sys.platform.startswith("linux"):
        return 0
    table = f"/proc/{pid}/fd"
    try:
        try:
            return _deleted_bytes(table)
        except PermissionError:
            if owner is not None and os.geteuid() == 0:
                with _file_system_ids(*owner):
                    return _deleted_bytes(table)
            raise
    except (FileNotFoundError, ProcessLookupError):
        return 0  # the child is gone: it holds nothing
    except PermissionError:
        # A process that is exiting has given up its memory, and the kernel then shows
        # its /proc folder as root's: it holds nothing, and hid nothing.
        return 0 if _exiting(pid) else None
    except OSError:
        return None


PF_EXITING = 0x4


def _exiting(pid: int) -> bool:
    """Say whether process ``pid`` is exiting, or gone (its flags in /proc/<pid>/stat)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        fields = stat_line.rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    # After the command: state, ppid, pgrp, session, tty, tpgid, then the flags.
    return fields[0] in ("Z", "X") or bool(int(fields[6]) & PF_EXITING)


def _deleted_bytes(table: str) -> int:
    names = os.listdir(table)
    seen: set[tuple[int, int]] = set()
    total = 0
    for name in names:
        try:
            st = os.stat(f"{table}/{name}")  # follows the descriptor to its file
        except FileNotFoundError:
            continue  # closed while this counted
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


@contextlib.contextmanager
def _file_system_ids(uid: int, gid: int) -> Iterator[None]:
    """Read as ``uid``:``gid`` on this thread alone (setfsuid is per thread; setuid is not)."""
    libc = ctypes.CDLL(None, use_errno=True)
    group = libc.setfsgid(gid)
    user = libc.setfsuid(uid)
    try:
        yield
    finally:
        libc.setfsuid(user)
        libc.setfsgid(group)


class _TooMany(Exception):
    """More entries than the judge counts."""


def _count(fd: int, counted: list[int], most: int) -> list[str]:
    """Add the bytes and entries of folder ``fd`` to ``counted``; return its subfolders."""
    folders = []
    with os.scandir(fd) as entries:
        for entry in entries:
            counted[1] += 1
            if counted[1] > most:
                raise _TooMany()
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                folders.append(entry.name)
            counted[0] += st.st_blocks * 512
    return folders


def _enter(fd: int, name: str) -> int | None:
    """Open the subfolder ``name`` of ``fd`` for removal, restoring its modes; None if a file."""
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    try:
        # A submission may chmod 000 its folders to make them stick around.
        os.chmod(name, 0o700, dir_fd=fd)
    except OSError:
        pass
    try:
        return os.open(name, _OPEN_DIR, dir_fd=fd)
    except OSError:
        return None


def _empty_of_files(fd: int) -> list[str]:
    """Unlink every non-folder in ``fd``; return the names of its subfolders."""
    folders = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            else:
                _unlink(fd, entry.name)
    return folders


def _unlink(fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    except OSError:
        _disarm(fd, name)


def _disarm(fd: int, name: str) -> None:
    """Strip setuid, setgid and every permission from a file that would not go."""
    try:
        file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        return
    try:
        if stat.S_ISREG(os.fstat(file).st_mode):
            os.fchmod(file, 0)
    except OSError:
        pass
    finally:
        os.close(file)
