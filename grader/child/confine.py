"""Confine the child before it runs a line of student code.

This is the one seam where the platforms differ. On Linux the child moves
into fresh namespaces (pid, mount, network, ipc, uts; a user namespace when
not root): it sees none of the grader's processes, no network, a read-only
file system with the course's secrets covered, and a private tmpfs as its
only writable place. When the grader runs as root the child also drops to an
unprivileged user. Elsewhere (macOS, Windows, or a Linux that refuses
namespaces) only resource limits apply; SECURITY.md says what that means.

Config keys (all optional): ``hide`` (paths to cover), ``uid``/``gid`` (user
to become when root), ``memory`` (bytes of address space the submission may
add), ``namespaces`` (False to skip them).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share this number
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 1

WORKDIR = "/tmp/work"

# What the sandbox achieved, so the judge can state it (reported in the load reply).
state: dict[str, Any] = {"namespaces": False, "uid": None, "reason": ""}


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def enter(config: dict[str, Any]) -> None:
    """Confine this process as far as the platform allows."""
    try:
        import resource

        # A segfaulting submission must not litter the machine with core files.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform == "linux" and config.get("namespaces", True):
        try:
            _enter_namespaces(config)
            return
        except OSError as exc:
            state["reason"] = f"namespaces unavailable: {exc}"
    else:
        state["reason"] = "namespaces are Linux-only" if sys.platform != "linux" else "disabled"
    if config.get("status_fd") is not None:
        # Started by the zygote: a monitor must still report how the runner ends.
        pid = os.fork()
        if pid:
            _mirror_child(pid, config["status_fd"])


def limit_memory(config: dict[str, Any]) -> None:
    """Cap the address space the submission may add to what is mapped now (torch included)."""
    memory = config.get("memory")
    if not memory:
        return
    try:
        import resource

        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + int(memory), mapped + int(memory)))
    except (ImportError, OSError, ValueError):
        pass  # macOS and Windows do not enforce RLIMIT_AS; SECURITY.md says so


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(
    libc: Any,
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    enc = [s.encode() if s is not None else None for s in (source, target, fstype)]
    opts = ctypes.c_char_p(data.encode()) if data else None
    _check(libc.mount(enc[0], enc[1], enc[2], flags, opts), f"mount {target}")


def _enter_namespaces(config: dict[str, Any]) -> None:
    libc = _libc()
    root = os.geteuid() == 0
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if not root:
        flags |= CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare")
    if not root:
        # Map ourselves to root inside the namespace: mounts become possible, nothing more.
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")
    pid = os.fork()
    if pid:
        _mirror_child(pid, config.get("status_fd"))
    try:
        _confine_inside(libc, config, root)
    except OSError as exc:
        # Half a sandbox is worse than none reported as none: stop here.
        sys.stderr.write(f"grader: could not confine the submission: {exc}\n")
        sys.stderr.flush()
        os._exit(70)


def _confine_inside(libc: Any, config: dict[str, Any], root: bool) -> None:
    # From here on we are pid 1 of a new pid namespace: when we die, the kernel
    # kills every process the submission started, setsid or not.
    _die_with_parent(libc)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    new_uid = config.get("uid")
    keep = [os.path.abspath(p) for p in config.get("expose", []) if os.path.isdir(p)]
    covers = [p for p in config.get("hide", []) if os.path.isdir(p)]
    for path in config.get("hide", []):
        if os.path.isfile(path):
            _mount(libc, "/dev/null", path, None, MS_BIND)
    if root and new_uid is not None:
        for top, paths in _python_behind_locked_folders(keep).items():
            covers.append(top)
            keep.extend(paths)
    # Hold what must stay reachable before anything covers its path.
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep}
    for path, size in (("/tmp", "256m"), ("/var/tmp", "16m"), ("/dev/shm", "64m")):
        if os.path.isdir(path):
            # A private, empty, writable scratch space: gone when the child is.
            _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
            covers = [c for c in covers if not c.startswith(path + os.sep)]
    _cover(libc, covers, held)
    _read_only_root(libc)
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            _writable_again(libc, path)
    try:
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # some containers forbid a new proc; the pid namespace still hides pids from kill()
    os.makedirs(WORKDIR, exist_ok=True)
    if root and new_uid is not None:
        new_gid = config.get("gid", new_uid)
        os.chown(WORKDIR, new_uid, new_gid)
        os.setgroups([])
        os.setgid(new_gid)
        os.setuid(new_uid)
        state["uid"] = new_uid
        try:
            import resource

            # Fork bombs stop here; counted per user, so the grader's own user is untouched.
            resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
        except (ImportError, ValueError, OSError):
            pass
    os.chdir(WORKDIR)
    os.environ["HOME"] = WORKDIR
    os.environ["TMPDIR"] = "/tmp"
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _die_with_parent(libc)  # setuid cleared the death signal: set it again
    state["namespaces"] = True


def _blocked_ancestor(path: str) -> str | None:
    """Return the highest folder above ``path`` that other users cannot traverse."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        folder = os.sep.join(parts[:i]) or os.sep
        try:
            if not os.stat(folder).st_mode & 0o001:
                return folder
        except OSError:
            return None
    return None


def _python_behind_locked_folders(extra: list[str]) -> dict[str, list[str]]:
    """Map each folder nobody may traverse to the Python folders behind it.

    A Python installed under /root (pyenv, as on many CI images) is behind a
    0700 folder: the unprivileged user must reach the installation, and only it.
    """
    import site

    wanted = {sys.prefix, sys.exec_prefix, sys.base_prefix, *site.getsitepackages(), *extra}
    blocked: dict[str, list[str]] = {}
    for path in sorted(wanted):
        top = _blocked_ancestor(path) if os.path.isdir(path) else None
        if top is not None and top != path:
            blocked.setdefault(top, []).append(path)
    return blocked


def _cover(libc: Any, covers: list[str], held: dict[str, int]) -> None:
    """Put an empty tmpfs over each folder, then bind the held paths back where they were.

    Covering a folder with a mount hides everything in it (ssh keys, .git, the
    solutions) without touching the real files. ``held`` maps paths that must
    stay reachable to O_PATH descriptors opened before anything was covered:
    binding from /proc/self/fd reaches the original even under a cover.
    """
    # Deepest first: covering a parent first would hide the child folder's path.
    for top in sorted(covers, key=lambda p: p.count(os.sep), reverse=True):
        inside = any(k == top or k.startswith(top.rstrip(os.sep) + os.sep) for k in held)
        mode = "755" if inside else "000"
        _mount(libc, "tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, f"size=1m,mode={mode}")
    for path, fd in sorted(held.items()):
        if not os.path.isdir(path) or not os.path.samestat(os.stat(path), os.fstat(fd)):
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def _writable_again(libc: Any, path: str) -> None:
    """Clear the read-only flag the root's recursive remount put on one scratch mount."""
    attr = _MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0)
    result = libc.syscall(
        SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), 0, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    if result != 0:
        _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)


def _read_only_root(libc: Any) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    result = libc.syscall(
        SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    if result != 0:
        # Older kernels: read-only root only; submounts keep their flags.
        _mount(libc, "/", "/", None, MS_BIND | MS_REC)
        _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _die_with_parent(libc: Any) -> None:
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(137)  # the monitor is already gone


def _mirror_child(pid: int, status_fd: int | None) -> None:
    """Wait for the confined child and exit the way it did, so the judge sees its status.

    With ``status_fd`` (started by the zygote, so not the judge's own child)
    the status is also written there as a number: negative for a signal.
    """
    # The monitor never runs student code; it only waits.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if status_fd is not None:
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        try:
            os.write(status_fd, f"{code}\n".encode())
        except OSError:
            pass
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
