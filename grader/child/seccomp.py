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
    rules.load()
    return refused + ["clone (processes)", "clone3"]


def _add(seccomp: Any, rules: Any, action: int, name: str, *args: Any) -> bool:
    try:
        rules.add_rule(action, name, *args)
    except (OSError, ValueError, RuntimeError):
        return False  # a call this architecture does not have (fork on aarch64)
    return True
