"""Run a command where namespaces are refused, as in the deployments the grader must survive.

    python tests/deploy/refuse.py namespaces -- COMMAND...
    python tests/deploy/refuse.py mounts -- COMMAND...
    python tests/deploy/refuse.py namespaces,landlock -- COMMAND...

``namespaces`` refuses ``unshare``, ``setns``, namespace flags on ``clone``
and every mount call with EPERM, as Docker's default seccomp profile does
for a container without CAP_SYS_ADMIN, and as a kernel that disables
unprivileged user namespaces does (GitHub's runners, Ubuntu 23.10+ under
AppArmor's restriction, some distributions). ``mounts`` lets ``unshare``
succeed and refuses the mounts after it: AppArmor's other failure mode.
``landlock`` answers the Landlock calls with ENOSYS, as an older kernel or
an older container profile does.
The filter is inherited by everything the command starts, the grader and
its children included; ``no_new_privs`` is set, as in a container.
"""

from __future__ import annotations

import errno
import os
import sys

import pyseccomp as seccomp

# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
)
MOUNTS = ("mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsmount")


def main(argv: list[str]) -> None:
    kinds = set(argv[1].split(",")) if len(argv) > 1 else set()
    if (
        len(argv) < 4
        or not kinds
        or kinds - {"namespaces", "mounts", "landlock"}
        or argv[2] != "--"
    ):
        sys.exit(__doc__)
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in MOUNTS + ("mount_setattr",):
        rules.add_rule(refuse, name)
    if "namespaces" in kinds:
        rules.add_rule(refuse, "unshare")
        rules.add_rule(refuse, "setns")
        for flag in NAMESPACE_FLAGS:  # one rule each: the arguments of one rule are and-ed
            rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        # clone3's flags live in memory a filter cannot read: Docker answers ENOSYS.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    if "landlock" in kinds:
        for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    rules.load()
    os.execvp(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
