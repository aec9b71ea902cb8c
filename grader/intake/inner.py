"""Look inside a .zip a student handed in (a Canvas upload of their whole folder, say).

Nothing is unpacked: the members are listed as the student's files, and a
placed one is read straight from the archive, at most ``MAX_BYTES`` of it,
so an archive inside the download can neither write anywhere (zip slip, a
link) nor blow up (a bomb is read no further than an honest file's size).
One level only: an archive inside it is listed, not opened.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import PurePosixPath

from grader.intake.archive import entry_name
from grader.intake.layouts import MAX_FILES, Handed
from grader.submission.source import MAX_BYTES, SourceFile

__all__ = ["is_archive", "members", "read_member"]

_SKIPPED = ("__MACOSX", ".git", "__pycache__", ".ipynb_checkpoints")


def is_archive(handed: Handed) -> bool:
    """Say whether ``handed`` is a .zip of the student's (not a member of one)."""
    return not handed.member and not handed.not_code and handed.parts[-1].lower().endswith(".zip")


def members(handed: Handed) -> tuple[list[Handed], str]:
    """Return the files inside the student's .zip, or why they cannot be listed."""
    try:
        with zipfile.ZipFile(handed.path) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        return [], f"an archive that cannot be opened ({exc}): nothing in it was graded"
    found = []
    for info in infos[:MAX_FILES]:
        parts = tuple(p for p in PurePosixPath(entry_name(info)).parts if p not in ("", "/"))
        if not parts or any(p in _SKIPPED or p.startswith(".") or p == ".." for p in parts):
            continue
        found.append(replace(handed, parts=(*handed.parts, *parts), member=info.filename))
    return found, ""


def read_member(handed: Handed) -> SourceFile:
    """Read one member of the student's .zip, refusing links, huge and encrypted files."""
    shown = f"{handed.path}/{'/'.join(handed.parts[-1:])}"
    try:
        with zipfile.ZipFile(handed.path) as archive:
            info = archive.getinfo(handed.member)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                return SourceFile(shown, None, f"{handed.shown}: a symbolic link; not read")
            if info.file_size > MAX_BYTES:
                return SourceFile(shown, None, f"{handed.shown}: larger than 2 MiB")
            with archive.open(info) as member:
                raw = member.read(MAX_BYTES + 1)  # the declared size may lie
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, ValueError) as exc:
        return SourceFile(shown, None, f"{handed.shown}: cannot be read from its archive ({exc})")
    if len(raw) > MAX_BYTES:
        return SourceFile(shown, None, f"{handed.shown}: larger than 2 MiB")
    return SourceFile(shown, raw)
