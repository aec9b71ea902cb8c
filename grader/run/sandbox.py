"""Judge whether the confinement a child reported is enough to run other people's code.

The child reports which layers went up (``grader.child.confine``) in its
first reply, before any student code has run, so the report can be believed.
Each guarantee of SECURITY.md holds when at least one layer that provides it
ran; ``grade batch`` refuses to run a class when one does not hold (unless
the instructor passes ``--trust-submissions``), and ``grade`` tells the
student in one line.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GUARANTEES", "held", "shortfall", "layers"]

# What a submission cannot do, in the words SECURITY.md uses.
GUARANTEES = {
    "files": "read the grading user's files, the course, other students' work or the results, "
    "or write outside its scratch folder",
    "network": "use the network, loopback included",
    "processes": "signal or trace the grader or other students' processes",
    "teardown": "leave processes running after its exercise, or fork without limit",
}


def held(sandbox: dict[str, Any] | None) -> dict[str, bool]:
    """Map each guarantee to whether a layer that provides it ran."""
    box = sandbox or {}
    namespaces = box.get("namespaces") is True
    seccomp = box.get("seccomp") is True
    found = box.get("landlock")
    landlock: dict[str, Any] = found if isinstance(found, dict) else {}
    unprivileged = box.get("uid") is not None
    return {
        # Landlock's allow-list; or, as root, covered folders in a read-only mount
        # namespace plus a uid that owns nothing.
        "files": landlock.get("files") is True or (namespaces and unprivileged),
        "network": seccomp or namespaces,
        "processes": seccomp or namespaces,
        "teardown": seccomp or (namespaces and unprivileged),
    }


def layers(sandbox: dict[str, Any] | None) -> str:
    """Name the layers that ran, for people: "namespaces, a uid of its own, Landlock 7, seccomp"."""
    box = sandbox or {}
    names = []
    if box.get("namespaces"):
        names.append("namespaces")
    if box.get("uid") is not None:
        names.append("a uid of its own")
    landlock = box.get("landlock")
    if isinstance(landlock, dict) and landlock.get("files"):
        names.append(f"Landlock {landlock.get('abi')}")
    if box.get("seccomp"):
        names.append("seccomp")
    return ", ".join(names) or "none"


def shortfall(sandbox: dict[str, Any] | None) -> str:
    """Return "" when every guarantee holds, else one line: what a submission could do, and why."""
    missing = [name for name, ok in held(sandbox).items() if not ok]
    if not missing:
        return ""
    could = "; ".join(GUARANTEES[name].replace(" or ", " and ", 1) for name in missing)
    reason = str((sandbox or {}).get("reason") or "no sandbox was reported")
    return f"a submission could {could} (layers that ran: {layers(sandbox)}; {reason})"
