"""Confine the child before it runs a line of student code, with every layer the machine allows.

This is the one seam where the platforms differ. On Linux the child stacks
independent layers, each of which works where the others may not, and
records which ran (``state``, sent to the judge before any student code):

- namespaces (pid, mount, network, ipc, uts; a user namespace when not
  root), when the machine allows them: a fresh process tree, no network, a
  read-only file system with the course covered and a private tmpfs;
- an unprivileged identity when the grader is root: a uid no one else uses,
  so file permissions and ``kill`` by uid work against it (or, where the
  Python installation is unreadable to other users and no mount namespace
  can bind it back, root with every capability dropped);
- Landlock (``grader.child.landlock``): the file system shrinks to the
  Python installation read-only and one scratch folder read-write; no TCP;
  no signals out of the domain. Unprivileged, and works in containers;
- a seccomp filter (``grader.child.seccomp``): no new processes, sockets,
  signals to others, ptrace, mounts. Unprivileged, and works in containers.

``enter`` runs before torch is imported (namespaces and identity), ``lock``
after it and right before the judge's first request (Landlock, seccomp,
memory), so the runtime's own imports are done when the walls go up.
Elsewhere (macOS, Windows) only resource limits apply; SECURITY.md says
what holds where, and the judge refuses a class where too little held.

Config keys (all optional): ``hide`` (paths to cover), ``expose`` (paths to
keep readable), ``python`` (the judge's Python folders: readable, and bound
back if covered), ``scratch`` (the private folder to write in when there is
no mount namespace), ``uid``/``gid`` (who to become when root), ``memory``
(bytes of address space the submission may add), ``namespaces`` (False to
skip them), ``landlock_abi`` (the most of Landlock to use: a test of older kernels).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

# Shared with the trusted side, which must not import this module to name a worker.
from grader.run.process import die_with_parent, name_process

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
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share this number
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 1

WORKDIR = "/tmp/work"

# What the sandbox achieved, so the judge can state it (sent before any student code runs).
state: dict[str, Any] = {
    "namespaces": False,
    "uid": None,
    "landlock": None,
    "seccomp": False,
    "reason": "",
}
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# Unique uids for children when the grader is root: far above any real account.
UID_BASE = 1_500_000_000


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _note(reason: str) -> None:
    state["reason"] = "; ".join(filter(None, [state["reason"], reason]))


def enter(config: dict[str, Any]) -> None:
    """Take the namespaces and identity the machine allows (before torch is imported)."""
    try:
        import resource

        # A segfaulting submission must not litter the machine with core files.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform != "linux":
        _note("namespaces, Landlock and seccomp are Linux-only")
    elif not config.get("namespaces", True):
        _note("namespaces disabled")
    else:
        why_not = namespaces_refused()
        if not why_not:
            _enter_namespaces(config)
            return
        _note(f"no namespaces: {why_not}")
    parent = os.getppid()
    if sys.platform == "linux":
        _become_unprivileged(config, python_readable=_readable_by_others(config))
        _die_with_parent(parent)  # after setuid, which clears the death signal
        scratch = config.get("scratch")
        if scratch:
            os.chdir(scratch)
            os.environ["HOME"] = os.environ["TMPDIR"] = scratch


_own_pid_namespace: int | None = None


def fork_as_pid_1(config: dict[str, Any]) -> int:
    """Fork as ``os.fork`` does; where root may, the child is pid 1 of a new pid namespace.

    For the zygote: the child then needs no monitor process between it and the
    namespace (one fork per submission instead of two), and ``enter`` builds
    the other namespaces in place. Elsewhere (not root, namespaces refused or
    off) this is a plain fork and the child builds its namespaces behind a
    monitor, as a fresh interpreter does.
    """
    global _own_pid_namespace
    if not (
        sys.platform == "linux"
        and config.get("namespaces", True)
        and os.geteuid() == 0
        and not namespaces_refused()
    ):
        return os.fork()
    libc = _libc()
    if _own_pid_namespace is None:
        _own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    if libc.unshare(CLONE_NEWPID) != 0:
        return os.fork()
    try:
        pid = os.fork()
    except BaseException:
        libc.setns(_own_pid_namespace, CLONE_NEWPID)
        raise
    if pid == 0:
        os.close(_own_pid_namespace)  # not the child's to hold
        config["pid_namespace"] = True
        return 0
    # Our next child gets a fresh namespace again: unshare refuses while this one is set.
    _check(libc.setns(_own_pid_namespace, CLONE_NEWPID), "setns")
    return pid


_probe_result: str | None = None


def namespaces_refused() -> str:
    """Return "" when this process may build its namespaces, else why not (asked once).

    Asked in a throwaway child, because the answer takes the real steps: under
    AppArmor's restriction (Ubuntu 23.10+, GitHub's runners) ``unshare``
    succeeds and only the mounts after it fail, and a container's seccomp
    profile refuses ``unshare`` itself.
    """
    global _probe_result
    if _probe_result is None:
        _probe_result = _probe_namespaces()
    return _probe_result


def _probe_namespaces() -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            libc = _libc()
            name_process("grade-probe")
            root = os.geteuid() == 0
            uid, gid = os.getuid(), os.getgid()  # after unshare they read as the overflow id
            _check(libc.unshare(_namespace_flags(root)), "unshare")
            if not root:
                _map_to_root(uid, gid)
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
            os.write(write, b"")
            os._exit(0)
        except BaseException as exc:
            try:
                os.write(write, str(exc).encode()[:500])
            finally:
                os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        why = answer.read().decode("utf-8", "replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return ""
    return why or "the namespace probe died"


# The private tmpfs folders' shares of the exercise's memory limit, and their caps:
# tmpfs pages are memory RLIMIT_AS never sees, so together they stay under the limit.
_TMPFS = {"/tmp": (2, 256 << 20), "/var/tmp": (16, 16 << 20), "/dev/shm": (8, 64 << 20)}
# Descriptors a submission may open beyond those it inherits. Each pipe or socket
# holds up to a few hundred KiB of kernel memory outside RLIMIT_AS (a socketpair's
# two buffers about 400 KiB): 20,000 of them held 4 GiB. The course needs a handful.
EXTRA_DESCRIPTORS = 64


def _tmpfs_sizes(memory: Any) -> dict[str, str]:
    """Size each private tmpfs from the memory limit (in bytes; None: the caps alone)."""
    sizes = {}
    for path, (share, cap) in _TMPFS.items():
        size = min(cap, int(memory) // share) if memory else cap
        sizes[path] = f"{max(size, 1 << 20) >> 10}k"
    return sizes


def limit_memory(config: dict[str, Any]) -> None:
    """Cap the address space the submission may add to what is mapped now (torch included).

    And what it may hold outside the address space: one file's size, and the
    descriptors (pipes, sockets) it may open.
    """
    memory = config.get("memory")
    if not memory:
        return
    try:
        import resource

        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + int(memory), mapped + int(memory)))
        # A scratch folder on the host's disk (no mount namespace) has no quota: one file
        # may not outgrow a quarter of the memory limit (Python ignores SIGXFSZ: write
        # fails); the judge counts what the whole folder holds (grader.run.executors.scratch).
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(memory) // 4, int(memory) // 4))
        # Counted by number, not by how many are open: a new descriptor takes the lowest
        # free number, and those inherited may sit high.
        highest = max((int(fd) for fd in os.listdir("/proc/self/fd")), default=2)
        fds = highest + 1 + EXTRA_DESCRIPTORS
        resource.setrlimit(resource.RLIMIT_NOFILE, (fds, fds))
    except (ImportError, OSError, ValueError):
        pass  # macOS and Windows do not enforce RLIMIT_AS; SECURITY.md says so


def lock(config: dict[str, Any]) -> None:
    """Raise the unprivileged walls: memory cap, Landlock, seccomp (after torch is imported).

    A layer the machine does not offer is recorded as missing (the judge
    decides whether that is enough); a layer that is offered but fails to
    go up stops the child, because half a wall reported as whole is worse
    than none.
    """
    limit_memory(config)
    if sys.platform != "linux":
        return
    from grader.child import landlock, seccomp

    libc = _libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    why_no_filter = seccomp.available()  # loads libseccomp while files are still reachable
    rules = landlock_rules(config)
    exposed = [hidden for hidden in config.get("hide", []) if _beneath_any(hidden, rules.read)]
    try:
        state["landlock"] = landlock.restrict(rules, most=config.get("landlock_abi"))
        if exposed and not state["namespaces"]:
            state["landlock"]["files"] = False
            _note(f"{exposed[0]} lies inside a folder the Python installation needs")
    except landlock.LandlockUnavailable as exc:
        _note(str(exc))
    if why_no_filter:
        _note(why_no_filter)
    else:
        seccomp.install()
        state["seccomp"] = True


def landlock_rules(config: dict[str, Any]) -> Any:
    """Return what the submission may read (Python, system libraries) and write (scratch)."""
    from grader.child.landlock import Rules

    system = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/opt/conda"]
    files = ["/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/fonts"]
    files += ["/proc/cpuinfo", "/proc/meminfo"]  # torch's CPU detection reads them lazily
    devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
    # /proc/self resolves to this process's own folder: other processes' stay closed.
    own = [os.path.realpath("/proc/self"), "/sys/devices/system/cpu"]
    python = [*config.get("python", []), *config.get("expose", [])]
    if state["namespaces"]:
        write = ["/tmp", "/var/tmp", "/dev/shm"]
    else:
        write = [config["scratch"]] if config.get("scratch") else []
    hidden = [os.path.realpath(h) for h in config.get("hide", [])]
    # A Python folder that holds a hidden one (a course root on sys.path) is left out:
    # the grader package inside it is exposed on its own.
    read = [p for p in python if not any(_beneath(h, os.path.realpath(p)) for h in hidden)]
    return Rules(read=system + files + own + read, write=devices + write)


def _beneath(path: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep) or os.sep
    return path == folder or path.startswith(folder if folder == os.sep else folder + os.sep)


def _beneath_any(path: str, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(_beneath(real, os.path.realpath(f)) for f in folders if os.path.exists(f))


def _readable_by_others(config: dict[str, Any]) -> bool:
    """Say whether another uid could reach every Python folder (pyenv under /root cannot)."""
    return not any(_blocked_ancestor(p) for p in config.get("python", []) if os.path.isdir(p))


def _become_unprivileged(config: dict[str, Any], python_readable: bool) -> None:
    """As root, become the uid the judge chose (or drop every capability); else nothing."""
    if os.geteuid() != 0:
        return
    uid = config.get("uid")
    if uid is not None and python_readable:
        gid = config.get("gid", uid)
        if config.get("scratch") and not state["namespaces"]:
            os.chown(config["scratch"], uid, gid)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        except OSError as exc:  # a user namespace with a short uid range (rootless podman)
            _note(f"could not become uid {uid}: {exc}")
        else:
            state["uid"] = "unique"  # not the number: results stay the same run to run
            _limit_processes()
            if not state["namespaces"]:
                # setuid made the child undumpable, and its /proc/<pid>/fd root's alone:
                # the judge counts the deleted files it holds open there, with this uid
                # as its file system uid where it lacks CAP_SYS_PTRACE (a container).
                _check(_libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
            return
    _drop_capabilities()
    _note("kept uid 0 without capabilities: the Python installation is unreadable to other users")


def _limit_processes() -> None:
    try:
        import resource

        # Fork bombs stop here; counted per user, so the grader's own user is untouched.
        resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))
    except (ImportError, ValueError, OSError):
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_capabilities() -> None:
    """Give up every capability for good: root by uid, nothing more."""
    libc = _libc()
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last one: fine
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


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


def _namespace_flags(root: bool) -> int:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    return flags if root else flags | CLONE_NEWUSER


def _map_to_root(uid: int, gid: int) -> None:
    # Map ourselves to root inside the namespace: mounts become possible, nothing more.
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _enter_namespaces(config: dict[str, Any]) -> None:
    libc = _libc()
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    # Forked by the zygote as pid 1 of its own pid namespace already: no monitor to fork.
    pid_namespace = bool(config.get("pid_namespace"))
    parent = os.getppid()
    try:
        flags = _namespace_flags(root) & ~(CLONE_NEWPID if pid_namespace else 0)
        _check(libc.unshare(flags), "unshare")
        if not root:
            _map_to_root(uid, gid)
    except OSError as exc:
        _fail_setup(exc)
    if not pid_namespace:
        # The monitor dies with whoever started it (the zygote, or the judge): else a
        # grader killed while a child blocks leaves monitor and child running under init,
        # as the instructor's user, for as long as the child cares to.
        _die_with_parent(parent)
        pid = os.fork()
        if pid:
            _mirror_child(pid)
    try:
        _confine_inside(libc, config, root)
        if root:
            # Inside the mount namespace the Python installation is bound back readable.
            _become_unprivileged(config, python_readable=True)
        _die_with_parent(0)  # setuid cleared the death signal: set it again
    except OSError as exc:
        _fail_setup(exc)


def _fail_setup(exc: OSError) -> None:
    # Half a sandbox is worse than none reported as none: stop here. The judge
    # reads a death before the first reply as the grader's failure, not the student's.
    sys.stderr.write(f"grader: could not confine the submission: {exc}\n")
    sys.stderr.flush()
    os._exit(70)


def _confine_inside(libc: Any, config: dict[str, Any], root: bool) -> None:
    # From here on we are pid 1 of a new pid namespace: when we die, the kernel
    # kills every process the submission started, setsid or not. (Our parent, the
    # zygote or a monitor, is outside the namespace: getppid() says 0.)
    _die_with_parent(0)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    keep = [os.path.abspath(p) for p in config.get("expose", []) if os.path.isdir(p)]
    python = [os.path.abspath(p) for p in config.get("python", []) if os.path.isdir(p)]
    covers = [p for p in config.get("hide", []) if os.path.isdir(p)]
    for path in config.get("hide", []):
        if os.path.isfile(path):
            _mount(libc, "/dev/null", path, None, MS_BIND)
    if root and config.get("uid") is not None:
        for top, paths in _python_behind_locked_folders(python + keep).items():
            covers.append(top)
            keep.extend(paths)
    # The Python installation stays reachable wherever it lives: under /tmp (a venv
    # of a CI job), inside the course, behind a locked home. Held before anything
    # covers its path, bound back after.
    keep.extend(p for p in python if any(_beneath(p, c) for c in [*covers, *_SCRATCH]))
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in dict.fromkeys(keep)}
    for path, size in _tmpfs_sizes(config.get("memory")).items():
        if os.path.isdir(path):
            # A private, empty, writable scratch space: gone when the child is.
            _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
            covers = [c for c in covers if not c.startswith(path + os.sep)]
    _cover(libc, covers, held)
    _read_only_root(libc)
    for path in _SCRATCH:
        if os.path.isdir(path):
            _writable_again(libc, path)
    try:
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # some containers forbid a new proc; the pid namespace still hides pids from kill()
    os.makedirs(WORKDIR, exist_ok=True)
    new_uid = config.get("uid")
    if root and new_uid is not None:
        os.chown(WORKDIR, new_uid, config.get("gid", new_uid))
    os.chdir(WORKDIR)
    os.environ["HOME"] = WORKDIR
    os.environ["TMPDIR"] = "/tmp"
    state["namespaces"] = True


_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


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


def _die_with_parent(parent: int) -> None:
    die_with_parent()
    # Compared with the pid we expect, not with 1: in a container the grader itself may be
    # pid 1 (`docker run ... grade batch`), and its child must not take it for an orphaning.
    if os.getppid() != parent:
        os._exit(137)  # the parent is already gone


def _mirror_child(pid: int) -> None:
    """Wait for the confined child and exit the way it did, so our parent sees its status."""
    # The monitor never runs student code; it only waits.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
