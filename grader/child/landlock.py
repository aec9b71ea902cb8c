"""Restrict the child's file-system, TCP and signal reach with Landlock.

Landlock is a Linux security module any process may use on itself, without
privileges and inside a default container: after ``restrict`` the process
(and everything it starts) can open only the paths it was allowed, make no
TCP connection, and signal no process outside its own domain. It needs
``no_new_privs``, which the child sets anyway.

Written against the kernel's three system calls with ctypes because the
Python bindings on PyPI cover file-system rules only (no TCP rules, ABI 4,
and no signal scoping, ABI 6), and the kernel interface is small and stable:
each ABI version only adds bits, which ``restrict`` drops when the running
kernel does not know them (and reports what it used).
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

__all__ = ["abi_version", "Rules", "restrict", "LandlockUnavailable"]

# The same numbers on every architecture: they were added after the tables were unified.
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

# What each ABI version can restrict; a newer kernel knows everything an older one does.
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR | EXECUTE
READ_WRITE = (1 << 16) - 1


class LandlockUnavailable(OSError):
    """The kernel (or a container's seccomp profile) offers no Landlock."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    libc = ctypes.CDLL(None, use_errno=True)
    func = libc.syscall
    func.restype = ctypes.c_long
    return func


def abi_version() -> int:
    """Return the Landlock ABI the kernel offers, 0 when there is none."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return 0
    version = _syscall()(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


@dataclass
class Rules:
    """Paths the confined process may still use: read-only, and read-write."""

    read: list[str]
    write: list[str]


def _handled(abi: int) -> tuple[int, int, int]:
    fs = max((bits for version, bits in _FS_BY_ABI.items() if version <= abi), default=0)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scoped


def restrict(rules: Rules, most: int | None = None) -> dict[str, int | bool]:
    """Allow this process only ``rules`` from now on; return what was enforced.

    TCP bind and connect are refused on every port (ABI 4), and signals and
    abstract unix sockets cannot cross the domain (ABI 6), when the kernel
    knows them. ``most`` caps the ABI used, to test what holds on an older
    kernel (Ubuntu 24.04's 6.8 offers ABI 4). Raises ``LandlockUnavailable``
    when there is no Landlock, and OSError when a rule cannot be added (the
    caller must then not go on).
    """
    abi = abi_version() if most is None else min(abi_version(), most)
    if abi < 1:
        raise LandlockUnavailable(
            "Landlock is not available: the kernel lacks it (before 5.13, or not in its lsm= "
            "list) or a container's seccomp profile refuses it"
        )
    call = _syscall()
    fs, net, scoped = _handled(abi)
    attr = _RulesetAttr(fs, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = int(call(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0))
    if ruleset < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"landlock_create_ruleset: {os.strerror(errno)}")
    try:
        for paths, access in ((rules.read, READ & fs), (rules.write, READ_WRITE & fs)):
            for path in paths:
                _allow(call, ruleset, path, access)
        if call(_RESTRICT_SELF, ruleset, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"landlock_restrict_self: {os.strerror(errno)}")
    finally:
        os.close(ruleset)
    return {"abi": abi, "files": True, "tcp": bool(net), "signals": bool(scoped)}


def _allow(call: ctypes._CFuncPtr, ruleset: int, path: str, access: int) -> None:  # type: ignore[name-defined]
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY  # directory rights on a file are EINVAL
        rule = _PathBeneath(access, fd)
        if call(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"landlock_add_rule {path}: {os.strerror(errno)}")
    finally:
        os.close(fd)
