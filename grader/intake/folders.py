"""Name each student's folder in OUT: one harmless path part, unique, never one of the batch's own.

Student names come from the download: ``bob.`` and ``bob`` would both
become ``bob`` (Windows drops the dot), a student named ``results.json`` or
``.state`` would write into the batch's own files, and ``Ann`` and ``ann``
are one folder on macOS and Windows. Each gets a folder of its own here,
decided once for the class, in the order of the names (so the same class
gets the same folders).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["RESERVED", "report_folders"]

# What the batch writes at the top of OUT (compared without case: macOS, Windows).
RESERVED = frozenset(
    {
        "results.json",
        "grades.csv",
        "index.html",
        "mistakes.csv",
        "similarity.csv",
        "similarity",
        "gradebook-canvas.csv",
        "gradebook-moodle.csv",
        "gradebook-unmatched.csv",
        "feedback-canvas.zip",
        "feedback-moodle.zip",
        ".state",
        ".lock",
    }
)
# Names Windows refuses for a file or folder, whatever follows the dot.
_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
MAX_PART = 200  # bytes of UTF-8: a path part holds 255, and "-2" may follow


def _safe(student: str) -> str:
    text = unicodedata.normalize("NFC", student)
    cleaned = "".join(c if c.isalnum() or c in "-_.@ " else "_" for c in text)
    cleaned = cleaned.strip(". ")
    while len(cleaned.encode()) > MAX_PART:  # a long CJK name is 3 bytes a character
        cleaned = cleaned[:-1]
    cleaned = cleaned.strip(". ")
    if not cleaned or cleaned.split(".", 1)[0].casefold() in _DEVICES:
        cleaned = f"_{cleaned}"
    return cleaned


def report_folders(students: Iterable[str]) -> dict[str, str]:
    """Return each student's folder name in OUT, unique without regard to case."""
    taken = set(RESERVED)
    folders: dict[str, str] = {}
    for student in sorted(set(students)):
        base = _safe(student)
        folder, number = base, 1
        while folder.casefold() in taken:
            number += 1
            folder = f"{base}-{number}"
        taken.add(folder.casefold())
        folders[student] = folder
    return folders
