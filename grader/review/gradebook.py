"""Put a graded class into a learning platform's gradebook: the roster and the import formats.

The roster is the instructor's CSV that maps each student folder to the
platform's ids. It is read and checked before any grading starts, so a
typo in it can never cost a graded class. The formats followed:

- Canvas, "How do I import grades in the Gradebook?" (Instructor Guide,
  2024): columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then
  one column per assignment; a "Points Possible" second row as Canvas's own
  export writes it.
- Moodle 4.x, "Grade import" (CSV import): one row per user with a column
  that identifies them (``ID number``, ``Email address`` or ``Username``,
  chosen under "Identify user by" when importing), then a column per grade
  item, mapped in the import form.

Pure: the rows are built here; ``grader.render.export`` writes them as CSV.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.score.results import crashed_checks

__all__ = ["PLATFORMS", "Roster", "RosterError", "load_roster", "gradebook_table"]

PLATFORMS = ("canvas", "moodle")

# Header cells are matched loosely (case, spaces, underscores), so a Canvas or
# Moodle export with a `folder` column added serves as the roster as it is.
_ALIASES = {
    "email_address": "email",
    "id_number": "idnumber",
    "student_name": "student",
    "name": "student",
}
_REQUIRED = {"canvas": ("folder", "student", "id"), "moodle": ("folder",)}
# Moodle identifies a user by any one of these, in the export's own words.
_MOODLE_IDS = {"idnumber": "ID number", "email": "Email address", "username": "Username"}
_CANVAS = (
    ("student", "Student"),
    ("id", "ID"),
    ("sis_user_id", "SIS User ID"),
    ("sis_login_id", "SIS Login ID"),
    ("section", "Section"),
)
MAX_ROSTER_BYTES = 16 * 1024 * 1024


class RosterError(Exception):
    """A one-line reason why the roster cannot be used."""


@dataclass(frozen=True)
class Roster:
    """The platform and, per student folder, the roster's cells (normalised headers)."""

    platform: str
    path: str
    rows: dict[str, dict[str, str]]
    columns: tuple[str, ...]


def _key(header: str) -> str:
    key = "_".join(header.strip().lower().replace("_", " ").split())
    return _ALIASES.get(key, key)


def load_roster(path: Path, platform: str) -> Roster:
    """Read and check the roster for ``platform``, or raise RosterError with a one-line reason."""
    if platform not in PLATFORMS:
        raise RosterError(f"unknown gradebook {platform!r} (choose from {', '.join(PLATFORMS)})")
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"roster {path}: larger than 16 MiB")
        # utf-8-sig: a spreadsheet's export often starts with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"roster {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path}: cannot be read ({exc})") from None
    try:
        table = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise RosterError(f"roster {path}: not a CSV file ({exc})") from None
    if not table:
        raise RosterError(f"roster {path}: empty")
    columns = tuple(_key(h) for h in table[0])
    # Named as the platform's export writes them, and the file's own headers as written:
    # the instructor looks for these words in the spreadsheet, not for our keys.
    labels = {"folder": "folder", **dict(_CANVAS), **_MOODLE_IDS}
    missing = [labels.get(c, c) for c in _REQUIRED[platform] if c not in columns]
    if platform == "moodle" and not any(c in columns for c in _MOODLE_IDS):
        missing.append(" or ".join(_MOODLE_IDS.values()))
    if missing:
        written = [h.strip() for h in table[0] if h.strip()]
        raise RosterError(
            f"roster {path}: missing column(s) {', '.join(missing)} for {platform}"
            f" (it has {', '.join(written) or 'none'})"
        )
    rows: dict[str, dict[str, str]] = {}
    ids = [c for c in ("id", "sis_user_id", "sis_login_id", *_MOODLE_IDS) if c in columns]
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line at the end of a hand-edited file
        row = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns)}
        # Canvas's export carries a "Points Possible" row: not a student.
        if row.get("student", "").strip().lower() == "points possible" and not row["folder"]:
            continue
        folder = row["folder"]
        if not folder:
            raise RosterError(f"roster {path}, line {number}: empty folder")
        if folder in rows:
            raise RosterError(f"roster {path}, line {number}: folder {folder!r} listed twice")
        for column in ids:
            value = row[column]
            if not value:
                if column in _REQUIRED[platform]:
                    raise RosterError(f"roster {path}, line {number}: empty {column}")
                continue
            if (column, value) in seen:
                raise RosterError(
                    f"roster {path}, line {number}: {column} {value!r} already on line "
                    f"{seen[(column, value)]}"
                )
            seen[(column, value)] = number
        if platform == "moodle" and not any(row.get(c) for c in _MOODLE_IDS):
            raise RosterError(f"roster {path}, line {number}: no idnumber, email or username")
        rows[folder] = row
    return Roster(platform=platform, path=str(path), rows=rows, columns=columns)


def gradebook_table(
    results: dict[str, Any], roster: Roster
) -> tuple[list[list[str | float]], list[tuple[str, str]]]:
    """Return the platform's import table (header first) and the unmatched students.

    Each unmatched student is ``(folder, problem)``: ``not in roster`` (graded
    but the platform has no id for them), ``no submission`` (on the roster,
    but no folder in the class) or ``checks could not run`` (a check crashed on
    their code: their score lacks points for no doing of theirs, and imported
    it would overwrite a fair grade). None is written into the table: a blank
    grade would be read as "no change" or as an error.
    """
    students = {str(s.get("student")): s for s in results.get("students") or []}
    exercises = sorted({e["exercise"] for s in students.values() for e in s.get("exercises", [])})
    titles = {
        e["exercise"]: str(e.get("title") or e["exercise"])
        for s in students.values()
        for e in s.get("exercises", [])
    }
    maxima = {
        e["exercise"]: e.get("max_score", 0.0)
        for s in students.values()
        for e in s.get("exercises", [])
    }
    # The header becomes the assignment's name on import: the number once, not
    # "01 01 · Leaf tensors" (the README's heading already starts with it).
    items = [_item(name, titles[name]) for name in exercises]
    if roster.platform == "canvas":
        header: list[str | float] = [label for _, label in _CANVAS]
        identity = [key for key, _ in _CANVAS]
    else:
        identity = [c for c in _MOODLE_IDS if c in roster.columns]
        header = [_MOODLE_IDS[c] for c in identity]
    table: list[list[str | float]] = [[*header, *items]]
    if roster.platform == "canvas":
        # As in Canvas's export: points possible under each assignment.
        table.append(
            ["Points Possible", *([""] * (len(identity) - 1)), *(maxima[e] for e in exercises)]
        )
    unfair = {name for name, s in students.items() if crashed_checks(s.get("exercises", []))}
    for folder, row in sorted(roster.rows.items(), key=lambda kv: kv[0]):
        student = students.get(folder)
        if student is None or folder in unfair:
            continue
        scores = {e["exercise"]: e.get("score", 0.0) for e in student.get("exercises", [])}
        table.append([row.get(c, "") for c in identity] + [scores.get(e, 0.0) for e in exercises])
    unmatched = [(s, "not in roster") for s in sorted(students) if s not in roster.rows]
    unmatched += [(f, "no submission") for f in sorted(roster.rows) if f not in students]
    unmatched += [(f, "checks could not run") for f in sorted(unfair) if f in roster.rows]
    return table, unmatched


def _item(name: str, title: str) -> str:
    """Name an exercise's column: its number, then its title without a number of its own."""
    number = name[:2]
    if title.startswith(number):
        title = title.removeprefix(number).lstrip(" ·.:-\u2013\u2014")
    return f"{number} {title or name}"
