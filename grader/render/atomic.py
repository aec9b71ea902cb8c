"""Write files so that a crash or kill -9 never leaves half of one behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new one.

    ``data`` may come in pieces (a class's results.json, one student at a time), so
    that the whole text never has to be in memory at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pieces = [data] if isinstance(data, (str, bytes)) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                f.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
            f.flush()
            # fsync before rename: after a power loss the rename must not point at empty blocks.
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
