"""Open a class's submissions: a folder as it is, or a .zip unpacked safely into a temporary one.

Every layout (a folder per student, a Canvas or Moodle download, repository
clones) comes through here, so the zip's guards hold for all of them: no
entry is written outside the extraction folder (zip slip), none is a
symbolic link, and the whole unpacks to at most 2 GiB in at most 200,000
entries (a zip bomb, or a zip of a million empty files, stops before
anything is written).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["IntakeError", "opened", "entry_name", "MAX_UNZIPPED", "MAX_ENTRIES"]

MAX_UNZIPPED = 2 * 1024**3  # a zip bomb stops here
MAX_ENTRIES = 200_000
_UTF8_FLAG = 0x800


class IntakeError(Exception):
    """A one-line reason why the submissions cannot be read."""


def entry_name(info: zipfile.ZipInfo) -> str:
    """Return the entry's name as its maker meant it, in NFC.

    Python reads a name without the zip's UTF-8 flag as cp437, the format's
    default. Info-ZIP and most tools on Linux and macOS write UTF-8 without
    setting the flag, which turned "José Núñez" into "Jos├⌐ N├║├▒ez": a name
    whose bytes are valid UTF-8 is read as UTF-8 (cp437 text of accented
    letters almost never is), any other as cp437. NFC, because macOS writes
    "é" as "e" and a combining accent, which would not match a roster's "é".
    """
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # truly cp437 (Windows' own zip folders), as Python read it
    # Some Windows tools write "ana\\01.py": a folder, not a file named with a backslash.
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


@contextmanager
def opened(submissions: Path) -> Iterator[Path]:
    """Yield the folder that holds the class's work, unpacking a .zip safely first."""
    if submissions.is_dir():
        yield submissions
        return
    if submissions.suffix.lower() != ".zip" or not submissions.is_file():
        raise IntakeError(
            f"{submissions}: expected a folder of student folders, a platform's download "
            "(.zip) or a .zip of a folder"
        )
    with tempfile.TemporaryDirectory(prefix="grade-batch-") as tmp:
        root = Path(tmp).resolve()
        try:
            with zipfile.ZipFile(submissions) as archive:
                _unpack(submissions, archive, root)
        except zipfile.BadZipFile as exc:
            raise IntakeError(f"{submissions}: not a valid zip file ({exc})") from None
        except OSError as exc:
            raise IntakeError(f"{submissions}: cannot be unpacked ({exc.strerror})") from None
        yield root


def _unpack(submissions: Path, archive: zipfile.ZipFile, root: Path) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise IntakeError(f"{submissions}: more than {MAX_ENTRIES} entries; refusing")
    total = 0
    planned: list[tuple[zipfile.ZipInfo, Path]] = []
    for info in infos:
        name = entry_name(info)
        target = (root / name).resolve()
        # Zip slip: an entry like ../../etc/cron.d/x must not land outside.
        if not target.is_relative_to(root) or Path(name).is_absolute():
            raise IntakeError(
                f"{submissions}: entry {name!r} would be written outside the "
                "extraction folder; refusing"
            )
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise IntakeError(f"{submissions}: entry {name!r} is a symbolic link; refusing")
        # The declared sizes bound what is written: a member is read up to its size only.
        total += info.file_size
        if total > MAX_UNZIPPED:
            raise IntakeError(f"{submissions}: unpacks to more than 2 GiB; refusing")
        planned.append((info, target))
    made: set[Path] = set()
    for info, target in planned:
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        if target.parent not in made:  # a Canvas download is thousands of files in one folder
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        with archive.open(info) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        # Kept from the zip: "the file changed last" decides between exercise.py and
        # exercise.ipynb side by side, as it does in a folder.
        stamp = time.mktime((*info.date_time, 0, 0, -1))
        os.utime(target, (stamp, stamp))
