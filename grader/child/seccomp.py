"""Refuse the system calls a submission has no use for, with a seccomp filter.

Works without privileges and inside default containers (it needs only
``no_new_privs``), so it holds where namespaces cannot be had. The filter is
built with libseccomp (through ``pyseccomp``), which knows each
architecture's system call numbers, rather than with hand-written BPF.

What it refuses, and the attack each line stops:

- new processes (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``;
  ``clone3``, whose flags a filter cannot read, answers ENOSYS so the C
  library falls back to ``clone``): fork bombs, and processes that would
  outlive the exercise by leaving its process group. Threads still work.
- sockets (``socket``; ``socketpair`` stays): the network, loopback
  included, and the grading user's unix sockets (ssh-agent, D-Bus).
- signals to any process but itself (``kill``, ``tgkill`` and the
  ``sigqueue`` calls with another pid; ``tkill``, ``pidfd_send_signal``):
  killing the grader, its monitor or another student's child.
- reaching into other processes (``ptrace``, ``process_vm_readv``/``writev``,
  ``pidfd_getfd``, ``kcmp``), and mounts, namespaces, BPF, perf, io_uring
  (which would run socket operations behind the filter's back), keyrings,
  modules and the like.
- reaching the grader's processes without a signal call, where no pid
  namespace hides them and Landlock cannot scope signals (ABI below 6):
  ``fcntl`` ``F_SETOWN``/``F_SETOWN_EX``/``F_SETSIG`` and the ``FIOSETOWN``/
  ``SIOCSPGRP`` ioctls (a SIGKILL delivered by ``O_ASYNC``, and an oracle
  for live pids), ``prlimit64``, ``setpriority`` and the ``sched_*`` calls
  on any process but the caller (pid 0): an ``RLIMIT_CPU`` of 1 s on the
  grader, ``SCHED_IDLE`` or one CPU inherited by the next student's child.
  Every call that would tell a live pid from a dead one (ESRCH for a pid
  nobody has, an answer or EPERM for a live one) answers EPERM alike for any
  pid but 0 (the caller): the read-only ``sched_get*``, ``sched_getaffinity``,
  ``getpgid``, ``getsid``, ``getpriority``, ``ioprio_get``,
  ``get_robust_list``; ``capget``, whose pid a filter cannot read, and
  ``pidfd_open`` are refused whole, and so are the priority-inheriting
  ``futex`` operations (the kernel looks up the owner their word names) and
  Yama's ``PR_SET_PTRACER``. ``wait*`` answers ECHILD for any pid (a child
  has no children). What stays: a path lookup under the host's ``/proc``,
  where no mount namespace covers it (SECURITY.md).
- objects that outlive the child or sit outside its memory limit: SysV IPC
  (``shmget``, ``msgget``, ``semget``...) and POSIX message queues, which
  without an IPC namespace survive the batch and reach the next student;
  ``memfd_create`` (memory ``RLIMIT_AS`` never counts); ``F_SETPIPE_SZ``
  (a request pipe of one page, or pipes of 1 MiB each).
- watching the file system (``inotify``, ``fanotify``): Landlock has no
  hook for it, and it names other students as they are graded.
- setuid and setgid mode bits in ``chmod``, ``fchmod``, ``fchmodat``,
  ``open``, ``openat``, ``creat`` and ``mknod``: a setuid copy of a shell
  left in a scratch folder on the host, run by another local account.
"""

from __future__ import annotations

import errno
import os
from typing import Any

__all__ = ["install", "available"]

CLONE_THREAD = 0x00010000

_REFUSED = (
    "fork",
    "vfork",
    "socket",
    "tkill",
    "pidfd_send_signal",
    "pidfd_getfd",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "syslog",
    "iopl",
    "ioperm",
)
# Signal calls whose first argument is the target process: allowed for this process only.
_SIGNAL_BY_PID = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Calls that act on the process their first argument names: allowed on pid 0 (the caller)
# only, since libseccomp compares an argument once per rule ("not 0 and not me" is two).
_SELF_ONLY = (
    "prlimit64",
    "sched_setscheduler",
    "sched_setparam",
    "sched_setaffinity",
    "sched_setattr",
    "sched_getscheduler",
    "sched_getparam",
    "sched_getattr",
    "sched_rr_get_interval",
    "sched_getaffinity",
    "getpgid",
    "getsid",
    "get_robust_list",
    "migrate_pages",
    "move_pages",
)
_REFUSED_TOO = (
    "ioprio_set",
    "pidfd_open",
    "capget",
    "process_madvise",
    "process_mrelease",
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "ipc",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "memfd_create",
    "memfd_secret",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "fanotify_init",
    "fanotify_mark",
    # Its open_how lives in memory a filter cannot read, mode bits included; Python
    # never calls it, and a C library that does falls back to openat on ENOSYS.
    "openat2",
)
F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETPIPE_SZ = 8, 10, 15, 1031
# futex's priority-inheriting operations (LOCK_PI, UNLOCK_PI, TRYLOCK_PI,
# WAIT_REQUEUE_PI, CMP_REQUEUE_PI, LOCK_PI2); the kernel reads the command as
# op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME), so the filter masks the same.
FUTEX_PI = (6, 7, 8, 11, 12, 13)
FUTEX_COMMAND = 0xFFFFFE7F
PR_SET_PTRACER = 0x59616D61
PR_SET_DUMPABLE = 4
FIOSETOWN, SIOCSPGRP = 0x8901, 0x8902
S_ISUID, S_ISGID = 0o4000, 0o2000
# Where each call takes the mode of the file it changes or creates.
_MODE_ARGUMENT = {
    "chmod": 1,
    "fchmod": 1,
    "fchmodat": 2,
    "fchmodat2": 2,
    "open": 2,
    "openat": 3,
    "creat": 1,
    "mknod": 1,
    "mknodat": 2,
}


def _library() -> Any:
    import pyseccomp

    return pyseccomp


def available() -> str:
    """Return "" when a filter can be installed here, else why not."""
    try:
        _library()
    except (ImportError, RuntimeError, OSError) as exc:
        return f"libseccomp is not available ({exc}): install libseccomp2 and pyseccomp"
    return ""


def install() -> list[str]:
    """Load the filter for this process and all its threads; return the calls it refuses."""
    seccomp = _library()
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    # Every thread of the process, not only the calling one.
    rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    refused = []
    for name in _REFUSED:
        if _add(seccomp, rules, refuse, name):
            refused.append(name)
    # A thread is a clone with CLONE_THREAD; anything else is a new process.
    _add(seccomp, rules, refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    _add(seccomp, rules, seccomp.ERRNO(errno.ENOSYS), "clone3")
    me = os.getpid()
    for name in _SIGNAL_BY_PID:
        if _add(seccomp, rules, refuse, name, seccomp.Arg(0, seccomp.NE, me)):
            refused.append(f"{name} (other processes)")
    for name in _SELF_ONLY:
        if _add(seccomp, rules, refuse, name, seccomp.Arg(0, seccomp.NE, 0)):
            refused.append(f"{name} (other processes)")
    # setpriority(which, who): PRIO_PGRP and PRIO_USER reach the grader's own processes.
    _add(seccomp, rules, refuse, "setpriority", seccomp.Arg(0, seccomp.NE, 0))
    _add(seccomp, rules, refuse, "setpriority", seccomp.Arg(1, seccomp.NE, 0))
    _add(seccomp, rules, refuse, "getpriority", seccomp.Arg(1, seccomp.NE, 0))
    _add(seccomp, rules, refuse, "ioprio_get", seccomp.Arg(1, seccomp.NE, 0))
    refused.append("setpriority (other processes)")
    for command in FUTEX_PI:
        _add(
            seccomp,
            rules,
            refuse,
            "futex",
            seccomp.Arg(1, seccomp.MASKED_EQ, FUTEX_COMMAND, command),
        )
    _add(seccomp, rules, refuse, "prctl", _low_half(seccomp, 0, PR_SET_PTRACER))
    # Dumpable, the judge may read which files the child holds open (deleted ones count
    # against its memory where its scratch folder is on the host's disk): it stays so.
    _add(seccomp, rules, refuse, "prctl", _low_half(seccomp, 0, PR_SET_DUMPABLE))
    refused.append("futex (priority inheritance), PR_SET_PTRACER, PR_SET_DUMPABLE")
    for name in _REFUSED_TOO:
        if _add(seccomp, rules, refuse, name):
            refused.append(name)
    # The command is an unsigned int: the kernel drops the upper half of the register,
    # so the filter compares the lower half only (else 1 << 32 | F_SETOWN passes).
    for name in ("fcntl", "fcntl64"):
        for command in (F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETPIPE_SZ):
            _add(seccomp, rules, refuse, name, _low_half(seccomp, 1, command))
    for command in (FIOSETOWN, SIOCSPGRP):
        _add(seccomp, rules, refuse, "ioctl", _low_half(seccomp, 1, command))
    refused.append("fcntl (owner, signal, pipe size)")
    for name, index in _MODE_ARGUMENT.items():
        for bit in (S_ISUID, S_ISGID):  # one rule each: the arguments of one rule are and-ed
            _add(seccomp, rules, refuse, name, seccomp.Arg(index, seccomp.MASKED_EQ, bit, bit))
    refused.append("setuid and setgid modes")
    rules.load()
    return refused + ["clone (processes)", "clone3"]


def _low_half(seccomp: Any, index: int, value: int) -> Any:
    return seccomp.Arg(index, seccomp.MASKED_EQ, 0xFFFFFFFF, value)


def _add(seccomp: Any, rules: Any, action: int, name: str, *args: Any) -> bool:
    try:
        rules.add_rule(action, name, *args)
    except (OSError, ValueError, RuntimeError):
        return False  # a call this architecture does not have (fork on aarch64)
    return True
