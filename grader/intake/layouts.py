"""Recognise how a class's work is laid out and find each student's files and identity.

The layouts, as the platforms write them:

- ``canvas``: "Download Submissions" (Canvas's ``lib/content_zipper.rb``), one
  flat zip with a file per upload named ``{name}[_LATE]_{user id}_{attachment id}_{file}``
  (``name``: the sortable name, lowercased, non-word characters removed);
  anonymous grading writes ``anon_{anonymous id}`` for the name and user id;
  text entries are ``{name}[_LATE]_{user id}_text.html`` (a link ``_link.html``).
- ``moodle``: "Download all submissions" (``mod/assign``): a folder
  ``{Full Name}_{participant id}_assignsubmission_{plugin}_`` per student and
  plugin (without the trailing ``_`` since Moodle 4.1), or flat files
  ``{Full Name}_{participant id}_assignsubmission_file_{file}``; blind
  marking writes ``Participant``, group submissions ``{Group}-{Full Name}``.
  Moodle replaces ``_`` in names by spaces, so a part splits as its own
  feedback importer splits it: name, participant id, plugin type, plugin.
- ``repos``: one clone per student of their course repository,
  ``{prefix}-{username}/exercises/NN_name/exercise.py`` (a classroom tool's
  naming; the prefix every folder shares is the assignment's).
- ``folders``: one folder per student, named for the student.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.intake.archive import IntakeError

__all__ = ["LAYOUTS", "Identity", "Handed", "Handin", "detect", "hand_ins", "handin_of"]

LAYOUTS = ("canvas", "moodle", "repos", "folders")

# Canvas: the first two all-digit parts are the user and the attachment id, as
# Canvas reads them back when feedback is uploaded (its sortable names never hold
# one: Canvas joins "_12_" to "12" before it writes the name).
_CANVAS = re.compile(
    r"^(?P<name>.+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<attachment>\d+)_(?P<file>.+)$"
)
_CANVAS_ANON = re.compile(
    r"^(?P<late>LATE_)?anon_(?P<user>[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$"
)
_CANVAS_TEXT = re.compile(
    r"^(?:(?P<late1>LATE_)?anon_(?P<anon>[A-Za-z0-9]+)|(?P<name>.+?)(?P<late2>_LATE)?_(?P<user>\d+))"
    r"_(?P<kind>text|link)\.html$"
)
_MOODLE_TYPES = ("assignsubmission", "assignfeedback")
# Walking a student's folder stops here: no honest hand-in holds more.
MAX_FILES = 5000
# Not the student's work: version control, caches, editors' and systems' own files.
_SKIPPED_DIRS = {".git", "__pycache__", "__MACOSX", ".ipynb_checkpoints", "node_modules"}
_SKIPPED_DIRS |= {".venv", "venv", "site-packages", ".idea", ".vscode"}
# Terminal controls and bidirectional overrides ("Trojan Source"): never in a name we write.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_name(text: str) -> str:
    """Return ``text`` in NFC without control characters, trimmed: a name safe to show."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True)
class Identity:
    """Who a hand-in is from, as the platform named them."""

    platform: str
    name: str
    id: str = ""
    late: bool = False
    anonymous: bool = False
    group: str = ""
    # How the download named this student: feedback goes back under the same name.
    prefix: str = ""

    def record(self) -> dict[str, Any]:
        """Return the identity as results.json keeps it (see docs/course-layout.md)."""
        record: dict[str, Any] = {"platform": self.platform, "name": self.name, "id": self.id}
        if self.platform == "canvas":
            record["late"] = self.late
            record["anonymous"] = self.anonymous
        if self.platform == "moodle":
            record["anonymous"] = self.anonymous
            record["group"] = self.group
        return record


@dataclass(frozen=True)
class Handed:
    """One file a student handed in."""

    path: Path  # where it is on disk
    parts: tuple[str, ...]  # its path as the student laid it out: what the name matcher reads
    within: Path  # the folder it must not lead out of through a symbolic link
    attachment: str = ""  # Canvas's attachment id: the higher, the later the upload
    not_code: str = ""  # why a file is listed but never graded (a text entry)
    member: str = ""  # set when the file is inside a .zip the student handed in (``path``)

    @property
    def shown(self) -> str:
        return "/".join(self.parts)


@dataclass
class Handin:
    """One student's files and identity."""

    identity: Identity
    files: list[Handed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX", "~$")))


def _canvas_name(name: str) -> re.Match[str] | None:
    return _CANVAS_ANON.match(name) or _CANVAS.match(name) or _CANVAS_TEXT.match(name)


def _moodle_parts(name: str) -> list[str] | None:
    info = name.split("_", 4)
    if len(info) < 4 or not info[1].isdigit() or info[2] not in _MOODLE_TYPES:
        return None
    return info


def unwrapped(root: Path) -> Path:
    """Return the folder that holds the class: a zip of the class folder holds that one folder."""
    entries = _entries(root)
    while len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = _entries(entries[0])
        if any(_moodle_parts(p.name) or _canvas_name(p.name) for p in inner):
            return entries[0]  # a platform's download, zipped in its folder
        student = (
            not any(p.is_dir() for p in inner)
            or (entries[0] / "exercises").is_dir()
            or any(p.is_file() and p.suffix.lower() in (".py", ".ipynb") for p in inner)
            or any(p.is_dir() and p.name[:1].isdigit() for p in inner)
        )
        if student:
            return root  # one student's folder (or clone): the class is its parent
        root, entries = entries[0], inner
    return root


def detect(root: Path) -> str:
    """Return the layout of ``root``, or raise IntakeError saying what was expected."""
    entries = _entries(root)
    files = [p for p in entries if p.is_file()]
    folders = [p for p in entries if p.is_dir()]
    moodle = [p for p in entries if _moodle_parts(p.name)]
    if moodle and len(moodle) * 2 >= len(entries):
        return "moodle"
    canvas = [p for p in files if _canvas_name(p.name)]
    if canvas and len(canvas) * 2 >= len(files) and len(folders) <= len(files):
        return "canvas"
    if folders:
        clones = [p for p in folders if (p / "exercises").is_dir() or (p / ".git").exists()]
        return "repos" if len(clones) * 2 > len(folders) else "folders"
    raise IntakeError(
        f"{root.name or root}: no student folders in it, and not a Canvas or Moodle download "
        "(expected a folder per student, Canvas's {name}_{user id}_{attachment id}_{file} "
        "files or Moodle's {Full Name}_{participant id}_assignsubmission_file_ folders; "
        "--layout canvas|moodle|repos|folders says which)"
    )


def hand_ins(root: Path, layout: str) -> tuple[list[Handin], list[tuple[str, str]]]:
    """Return every student's hand-in under ``root`` and the files that belong to no student."""
    read = {"canvas": _canvas, "moodle": _moodle, "repos": _repos, "folders": _folders}[layout]
    handins, stray = read(root)
    if not handins:
        raise IntakeError(_nothing_in(root, layout))
    return handins, stray


def _nothing_in(root: Path, layout: str) -> str:
    expected = {
        "canvas": "files named {name}_{user id}_{attachment id}_{file}, as Canvas names them",
        "moodle": "folders named {Full Name}_{participant id}_assignsubmission_file_",
        "repos": "a folder per student's repository clone",
        "folders": "a folder per student",
    }[layout]
    return f"{root.name or root}: nothing in it for --layout {layout} (expected {expected})"


def _walk(folder: Path, handin: Handin, prefix: tuple[str, ...] = ()) -> Iterator[Handed]:
    """Yield every file under a student's folder (not following links to folders)."""
    within = folder.parent.resolve() / folder.name  # a student folder that is a link is refused
    count = 0
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        relative = Path(here).relative_to(folder).parts
        for name in sorted(names):
            if name.startswith((".", "~$")):
                continue  # .DS_Store, editors' lock and swap files
            count += 1
            if count > MAX_FILES:
                handin.problems.append(f"more than {MAX_FILES} files: the rest were not looked at")
                return
            yield Handed(Path(here) / name, (*prefix, *relative, name), within)


def handin_of(folder: Path) -> Handin:
    """Return the hand-in of the one student whose work is ``folder``."""
    name = clean_name(folder.name)
    handin = Handin(Identity("folders", name, name, prefix=folder.name))
    handin.files = list(_walk(folder, handin))
    return handin


def _folders(root: Path) -> tuple[list[Handin], list[tuple[str, str]]]:
    handins = []
    stray = []
    for entry in _entries(root):
        if entry.is_dir():
            handins.append(handin_of(entry))
        elif entry.suffix.lower() in (".py", ".ipynb"):
            stray.append((entry.name, "not inside a student's folder"))
    return handins, stray


def _repos(root: Path) -> tuple[list[Handin], list[tuple[str, str]]]:
    handins, stray = _folders(root)
    names = [h.identity.prefix for h in handins]
    # "autograd-2026-ana" and "autograd-2026-ben": the shared prefix is the assignment's.
    prefix = os.path.commonprefix(names) if len(names) > 1 else ""
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    for handin in handins:
        folder = handin.identity.prefix
        user = clean_name(folder[len(prefix) :] or folder)
        handin.identity = Identity("repos", user, user, prefix=folder)
    return handins, stray


def _canvas(root: Path) -> tuple[list[Handin], list[tuple[str, str]]]:
    by_user: dict[str, Handin] = {}
    stray = []
    for entry in _entries(root):
        if entry.is_dir():
            stray.append((entry.name + "/", "a folder in a Canvas download: not read"))
            continue
        match = _canvas_name(entry.name)
        if match is None:
            stray.append((entry.name, "not named as Canvas names a student's file"))
            continue
        groups = match.groupdict()
        anonymous = groups.get("anon") is not None or match.re is _CANVAS_ANON
        user = groups.get("user") or groups.get("anon") or ""
        name = groups.get("name") or ""
        late = any(groups.get(k) for k in ("late", "late1", "late2"))
        head = (
            f"{name}{'_LATE' if late else ''}_{user}"
            if name
            else f"{'LATE_' if late else ''}anon_{user}"
        )
        key = ("anon_" if anonymous else "") + user
        handin = by_user.get(key)
        if handin is None:
            shown = f"anonymous {user}" if anonymous else name
            identity = Identity("canvas", clean_name(shown), user, late, anonymous, prefix=head)
            handin = by_user[key] = Handin(identity)
        elif late and not handin.identity.late:
            handin.identity = replace(handin.identity, late=True, prefix=head)
        if groups.get("kind"):
            what = "a text entry" if groups["kind"] == "text" else "a link"
            handin.files.append(
                Handed(entry, (entry.name,), root, not_code=f"{what} typed into Canvas, not code")
            )
            continue
        handin.files.append(Handed(entry, (groups["file"],), root, attachment=groups["attachment"]))
    return list(by_user.values()), stray


def _moodle(root: Path) -> tuple[list[Handin], list[tuple[str, str]]]:
    by_participant: dict[str, Handin] = {}
    stray = []
    for entry in _entries(root):
        info = _moodle_parts(entry.name)
        if info is None:
            stray.append((entry.name, "not named as Moodle names a participant's work"))
            continue
        name, participant, kind, plugin, rest = (*info, "")[:5]
        handin = by_participant.get(participant)
        if handin is None:
            prefix = f"{name}_{participant}_assignsubmission_file_"
            identity = Identity("moodle", clean_name(name), participant, prefix=prefix)
            handin = by_participant[participant] = Handin(identity)
        if kind != "assignsubmission":
            continue  # feedback files already in the download: the marker's, not the student's
        not_code = "" if plugin == "file" else f"written in Moodle's {plugin} editor, not code"
        if entry.is_dir():
            if plugin == "file":
                handin.identity = replace(handin.identity, prefix=entry.name)
            for handed in _walk(entry, handin):
                handin.files.append(
                    Handed(handed.path, handed.parts, handed.within, not_code=not_code)
                )
        elif rest:
            handin.files.append(Handed(entry, (rest,), root, not_code=not_code))
    handins = list(by_participant.values())
    _name_groups(handins)
    return handins, stray


def _name_groups(handins: list[Handin]) -> None:
    """Split ``{Group}-{Full Name}`` in a group download; mark blind marking.

    A group assignment's download prefixes every participant (those in no
    group with "Default group-"), so names are split only when every one
    holds a "-" and some group part is shared: "Anne-Marie Curie" in an
    ordinary download stays whole.
    """
    names = [h.identity.name for h in handins]
    heads = [name.split("-", 1)[0] for name in names]
    grouped = all("-" in name for name in names) and len(set(heads)) < len(heads)
    for handin in handins:
        identity = handin.identity
        group, name = "", identity.name
        if grouped:
            group, name = (part.strip() for part in name.split("-", 1))
        blind = name.casefold() == "participant"
        shown = f"Participant {identity.id}" if blind else name
        handin.identity = replace(identity, name=shown, anonymous=blind, group=group)
