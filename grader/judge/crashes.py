"""Keep a crashed check's traceback for the course's author, never for the student.

A check that raises an error of its own (an ``IndexError`` in its code, not a
verdict) is a fault of the course. The student's report says only that the
check could not run and why in one line; the traceback (the check's file,
line and its own frames) is kept here, in the judging process, for ``grade
verify`` to show and for ``grade`` to write to a file it names.
"""

from __future__ import annotations

import os
import tempfile
import threading
import traceback
from pathlib import Path

__all__ = ["keep", "kept", "where", "write_kept"]

_KEPT: dict[tuple[str, str], tuple[str, str]] = {}  # (checks, check) -> (where, traceback)
_lock = threading.Lock()


def _inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def keep(checks: Path, check: str, error: BaseException) -> None:
    """Remember the traceback of ``error``, raised by ``check`` of the exercise at ``checks``."""
    checks = checks.resolve()
    # extract_tb reads the source lines but, unlike traceback.format_tb on 3.11,
    # parses no code for its carets: the judge's threads share one AST recursion guard.
    frames = traceback.extract_tb(error.__traceback__)
    own = [i for i, frame in enumerate(frames) if _inside(frame.filename, checks)]
    # From the check's own frame down: pytest's frames above it say nothing of the bug.
    lines = ["Traceback (most recent call last):\n"]
    for frame in frames[own[0] if own else 0 :]:
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n')
        if frame.line:
            lines.append(f"    {frame.line.strip()}\n")
    lines += traceback.format_exception_only(type(error), error)
    at = ""
    if own:
        frame = frames[own[-1]]
        shown = os.path.relpath(Path(frame.filename).resolve(), checks.parent.parent)
        at = f"{Path(shown).as_posix()}:{frame.lineno} in {frame.name}"
    with _lock:
        _KEPT[(str(checks), check)] = (at, "".join(lines))


def kept(checks: Path, check: str) -> str:
    """Return the last kept traceback of ``check`` (empty when it never crashed here)."""
    with _lock:
        return _KEPT.get((str(checks.resolve()), check), ("", ""))[1]


def where(checks: Path, check: str) -> str:
    """Return ``file:line in function`` of the check's own frame nearest the error, or ''."""
    with _lock:
        return _KEPT.get((str(checks.resolve()), check), ("", ""))[0]


def write_kept(checks: list[tuple[Path, str]]) -> str:
    """Write the kept tracebacks of these checks to a new file; return its path ('' if none)."""
    texts = [f"{name}:\n{kept(folder, name)}" for folder, name in checks if kept(folder, name)]
    if not texts:
        return ""
    try:
        fd, path = tempfile.mkstemp(prefix="grade-checks-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(texts))
    except OSError:
        return ""
    return path
