"""Tell which exercise a handed-in file is for, from its name and the folders above it.

Students save files the way their tools do: ``03_Multi_Input_Grads.py``,
``03.py``, ``exercise03.py``, ``03_multi_input_grads (1).py`` (a browser's
second download), ``03_multi_input_grads-1.py`` (Canvas's resubmission),
``Copy of exercise.ipynb`` (Google Drive), ``exercise - Copy.py`` (Windows),
or the course's own layout ``exercises/03_multi_input_grads/exercise.py`` at
any depth of a cloned repository. Only names are read here; nothing runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Match", "CODE_SUFFIXES", "without_copy_marks", "match_file", "exercise_named"]

CODE_SUFFIXES = (".py", ".ipynb")
# Archives not looked into (a .zip is, one level deep: grader.intake.inner), so listed.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".rar", ".7z")
STUB = "exercise"  # the stub's own name: it names no exercise, its folder does

_COPY_OF = re.compile(r"^(?:copy\s+of\s+)+", re.IGNORECASE)
# A trailing copy mark and the number it carries, if any: " (2)", "-2", " - Copy (2)", " copy 2".
_COPY_MARK = re.compile(
    r"(?:\s*\((?P<paren>\d+)\)|-(?P<dash>\d+)|\s+-\s+copy(?:\s*\((?P<win>\d+)\))?"
    r"|\s+copy(?:\s+(?P<mac>\d+))?)$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s.\-]+")
# "03", "3", "exercise03", "exercise_3", "ex3", "ex_03", "task 3": the number alone names it.
_NUMBER_ONLY = re.compile(r"(?:exercise|exercice|ex|task|hw)?_?(\d+)")
_NUMBER_FIRST = re.compile(r"(?:exercise|exercice|ex|task|hw)?_?(\d+)_(.+)")


@dataclass(frozen=True)
class Match:
    """What a file's name says: its exercise (``strong``: nothing else is meant), or why none."""

    exercise: str | None = None
    strong: bool = False
    copy: int = 0  # the copy or resubmission number its name carries: the higher, the later
    why: str = ""  # set when the file is code (or names an exercise) but is placed on none


def without_copy_marks(stem: str) -> tuple[str, int]:
    """Return ``stem`` without its copy marks, and the highest copy number they carried."""
    copy = 0
    text = unicodedata.normalize("NFC", stem).strip()
    while True:
        before = text
        if marked := _COPY_OF.match(text):
            text = text[marked.end() :].strip()
            copy = max(copy, 1)
        if marked := _COPY_MARK.search(text):
            number = next((int(g) for g in marked.groups() if g), 1)
            text = text[: marked.start()].strip()
            copy = max(copy, number)
        if text == before or not text:
            return (text or before), copy


def _key(text: str) -> str:
    return _SEPARATORS.sub("_", text.casefold()).strip("_")


def exercise_named(text: str, exercises: tuple[str, ...]) -> tuple[str | None, bool, str]:
    """Return (exercise, strong, number) for a file stem or folder name; (None, False, "") if none.

    ``number`` is set when the name carries a number the course has no exercise
    for (``08_backprop``): that file is listed, never dropped silently.
    """
    key = _key(text)
    by_name = {e.casefold(): e for e in exercises}
    if key in by_name:
        return by_name[key], True, ""
    if number := _NUMBER_ONLY.fullmatch(key):
        found = _numbered(int(number.group(1)), exercises)
        return (found, True, "") if found else (None, False, number.group(1))
    if first := _NUMBER_FIRST.fullmatch(key):
        found = _numbered(int(first.group(1)), exercises)
        if found is None:
            return None, False, first.group(1)
        slug = found.split("_", 1)[1].casefold() if "_" in found else ""
        rest = first.group(2)
        # "03_multi_input" and "03_multi_input_grads_final" are 03; "03_notes" is only maybe 03.
        return found, bool(slug) and (slug.startswith(rest) or rest.startswith(slug)), ""
    return None, False, ""


def _numbered(number: int, exercises: tuple[str, ...]) -> str | None:
    found = [
        e for e in exercises if e.split("_", 1)[0].isdigit() and int(e.split("_")[0]) == number
    ]
    return found[0] if len(found) == 1 else None


def match_file(
    parts: tuple[str, ...], exercises: tuple[str, ...], graded: tuple[str, ...]
) -> Match:
    """Say which of ``exercises`` the file at ``parts`` (its path in the hand-in) is for.

    ``graded`` are the exercises this run grades: ``exercise.py`` outside any
    exercise's folder can only be one of them when there is just one.
    """
    name = parts[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = "." + suffix.lower() if suffix else ""
    bare, copy = without_copy_marks(stem)
    own, own_strong, number = exercise_named(bare, exercises)
    if not own_strong and (unmarked := exercise_named(stem, exercises))[1]:
        # "exercise-03" is exercise 03, not a copy of "exercise" numbered 3.
        (own, own_strong, number), copy = unmarked, 0
    stem = bare
    if suffix in ARCHIVE_SUFFIXES:
        return Match(
            copy=copy,
            why=f"an archive ({suffix}) not looked into: unpack it into the student's "
            "folder and grade again",
        )
    if suffix not in CODE_SUFFIXES:
        if own is not None and own_strong:
            return Match(
                why=f"named for {own} but a {suffix or 'suffix-less'} file: "
                "only .py and .ipynb files are graded",
                copy=copy,
            )
        return Match(copy=copy)  # not code and named for nothing: a README, a screenshot
    folder = None
    for part in reversed(parts[:-1]):
        folder, _, _ = exercise_named(without_copy_marks(part)[0], exercises)
        if folder is not None:
            break
    if own is not None:
        if folder is not None and folder != own:
            return Match(copy=copy, why=f"could be {own} (its name) or {folder} (its folder)")
        return Match(own, own_strong or folder == own, copy)
    if folder is not None:
        # exercise.py in the exercise's folder is the layout the course ships; any
        # other file there (helpers.py, solution.py) is used only when nothing better is.
        return Match(folder, _key(stem) == STUB, copy)
    if _key(stem) == STUB:
        if len(graded) == 1:
            return Match(graded[0], True, copy)
        return Match(
            copy=copy,
            why=f"{name} outside an exercise's folder could be any of the {len(graded)} "
            "exercises graded (grade one with --exercises NN)",
        )
    if number:
        return Match(copy=copy, why=f"named for exercise {number}, which the course does not have")
    return Match(copy=copy, why="its name names no exercise of the course")
