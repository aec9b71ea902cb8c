"""Place every student's files on the exercises graded, and say what could not be placed.

Nothing is guessed silently: a file that could be two exercises, or two
files for one exercise, is listed with the choice made (the student's
latest, by Canvas's attachment id, then the copy or resubmission number in
its name, then the time it changed), and a file that looks like code but
fits no exercise is listed with why. An exercise is "missing" only when
nothing in the student's work could be it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.intake.archive import IntakeError
from grader.intake.inner import is_archive, members, read_member
from grader.intake.layouts import (
    LAYOUTS,
    Handed,
    Handin,
    Identity,
    detect,
    hand_ins,
    handin_of,
    unwrapped,
)
from grader.intake.names import Match, match_file
from grader.submission.source import SourceFile

__all__ = ["Placed", "Intake", "take", "take_one", "read_handed"]


@dataclass(frozen=True)
class Choice:
    """Several files could be one exercise: which was used, and which were not."""

    exercise: str
    used: str
    others: tuple[str, ...]


@dataclass
class Placed:
    """One student: who, the file graded for each exercise (None: missing), and the rest."""

    name: str  # unique in the class: the ``student`` of results.json
    identity: Identity
    files: dict[str, Handed | None]
    unplaced: list[tuple[str, str]] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)

    @property
    def attachments(self) -> list[str]:
        """Canvas attachment ids of the files graded: feedback is matched to one of them."""
        return [f.attachment for f in self.files.values() if f is not None and f.attachment]


@dataclass
class Intake:
    """What ``grade batch`` found: the layout, every student, and files of no student."""

    layout: str
    root: Path
    students: list[Placed]
    stray: list[tuple[str, str]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """Return the intake as results.json keeps it (see docs/course-layout.md)."""
        return {
            "layout": self.layout,
            "unplaced": [
                {"student": s.name, "path": path, "why": why}
                for s in self.students
                for path, why in s.unplaced
            ]
            + [{"student": None, "path": path, "why": why} for path, why in self.stray],
            "choices": [
                {
                    "student": s.name,
                    "exercise": c.exercise,
                    "used": c.used,
                    "others": list(c.others),
                }
                for s in self.students
                for c in s.choices
            ],
        }


def take(root: Path, exercises: Sequence[str], graded: Sequence[str], layout: str | None) -> Intake:
    """Find the students under ``root`` and place their files on the ``graded`` exercises.

    ``exercises`` are all the course's (a file named for one not graded now is
    not "unplaced"); ``layout`` is None to recognise it.
    """
    if layout is not None and layout not in LAYOUTS:
        raise IntakeError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    try:
        root = unwrapped(root)
        layout = layout or detect(root)
        handins, stray = hand_ins(root, layout)
    except OSError as exc:
        raise IntakeError(f"{exc.filename or root}: cannot be read ({exc.strerror})") from None
    names = _unique_names(handins)
    students = [
        _place(name, handin, tuple(exercises), tuple(graded))
        for name, handin in sorted(zip(names, handins, strict=True), key=lambda p: p[0])
    ]
    return Intake(layout, root, students, stray)


def take_one(folder: Path, exercises: Sequence[str]) -> Placed:
    """Place one student's files (``folder`` is their work) on every one of ``exercises``."""
    handin = handin_of(folder)
    return _place(handin.identity.name, handin, tuple(exercises), tuple(exercises))


def _unique_names(handins: list[Handin]) -> list[str]:
    """Name each student once: two "Jane Doe"s become "Jane Doe (12345)" and "Jane Doe (67890)"."""
    counts: dict[str, int] = {}
    for handin in handins:
        key = handin.identity.name.casefold()
        counts[key] = counts.get(key, 0) + 1
    names = []
    for handin in handins:
        identity = handin.identity
        name = identity.name or identity.id or "?"
        if (counts[identity.name.casefold()] > 1 or not identity.name) and identity.id != name:
            name = f"{name} ({identity.id})"
        names.append(name)
    # Folder names that differ only in what was cleaned out of them ("bob\x07", "bob").
    seen: dict[str, int] = {}
    for number, name in enumerate(names):
        if name.casefold() in seen:
            seen[name.casefold()] += 1
            names[number] = f"{name} ({seen[name.casefold()]})"
        else:
            seen[name.casefold()] = 1
    return names


def _rank(handed: Handed, match: Match) -> tuple[bool, int, int, int]:
    try:
        changed = 0 if handed.member else handed.path.stat().st_mtime_ns
    except OSError:
        changed = 0
    attachment = int(handed.attachment) if handed.attachment.isdigit() else 0
    return match.strong, attachment, match.copy, changed


def _place(
    name: str, handin: Handin, exercises: tuple[str, ...], graded: tuple[str, ...]
) -> Placed:
    candidates: dict[str, list[tuple[tuple[bool, int, int, int], Handed]]] = {}
    placed = Placed(name, handin.identity, {})
    placed.unplaced += [("", problem) for problem in handin.problems]
    files: list[Handed] = []
    for handed in handin.files:
        if not is_archive(handed):
            files.append(handed)
            continue
        inside, problem = members(handed)
        files += inside
        if problem:
            placed.unplaced.append((handed.shown, problem))
    # A clone of the course's released copy holds the course's own files too (grader/,
    # checks/): outside its exercises/ folder only a file named for an exercise counts.
    released = any("exercises" in handed.parts[:-1] for handed in files)
    for handed in files:
        if handed.not_code:
            placed.unplaced.append((handed.shown, handed.not_code))
            continue
        match = match_file(handed.parts, exercises, graded)
        if released and "exercises" not in handed.parts[:-1] and not match.strong:
            continue
        if match.exercise is None:
            if match.why:
                placed.unplaced.append((handed.shown, match.why))
            continue
        if match.exercise in graded:
            candidates.setdefault(match.exercise, []).append((_rank(handed, match), handed))
    for exercise in graded:
        found = sorted(candidates.get(exercise, []), key=lambda c: c[0], reverse=True)
        placed.files[exercise] = found[0][1] if found else None
        if len(found) > 1:
            used = found[0][1]
            placed.choices.append(
                Choice(exercise, used.shown, tuple(handed.shown for _, handed in found[1:]))
            )
    return placed


def read_handed(handed: Handed | None) -> SourceFile | None:
    """Read a placed file's bytes (None when the exercise is missing).

    The grader reads it with the instructor's rights, and what it reads ends up
    in the student's report (a syntax error quotes the line, the near-copy view
    shows the code): a symbolic link out of the student's folder (a cloned
    repository keeps them) would hand the student any file the instructor can read.
    """
    if handed is None:
        return None
    if not handed.path.resolve().is_relative_to(handed.within):
        return SourceFile(
            str(handed.path),
            None,
            f"{handed.shown}: a symbolic link out of the student's folder; not read",
        )
    return read_member(handed) if handed.member else SourceFile.read(handed.path)
