"""Re-grade on every save: ``grade 03 --watch`` and ``grade --watch``.

Editors save in several file-system events (write, truncate, rename a temp
file over the original, touch metadata), so a save is only acted on once the
folder has been quiet for a moment. Only writes to the student's files count:
the grader reading them (open and close without writing) must not start
another grade, or it would never stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from grader.course.find import Exercise

__all__ = ["watched_files", "watch"]

QUIET = 0.3  # seconds without another event before a save counts as done
_WRITES = frozenset({"created", "modified", "moved", "closed"})  # "closed": after a write


def watched_files(work: list[tuple[Exercise, Path | None]]) -> dict[Path, set[str]]:
    """Map each folder to watch to the file names in it whose saves start a grade."""
    folders: dict[Path, set[str]] = {}
    for exercise, path in work:
        names = folders.setdefault(exercise.folder.resolve(), set())
        names.update(("exercise.py", "exercise.ipynb"))
        if path is not None and path.resolve().parent != exercise.folder.resolve():
            # `grade FILE --exercise 03 --watch`: a file kept elsewhere.
            folders.setdefault(path.resolve().parent, set()).add(path.name)
    return folders


class _Saves(FileSystemEventHandler):
    """Set ``changed`` when a watched file is written, created or renamed into place."""

    def __init__(self, folders: dict[Path, set[str]]) -> None:
        self.folders = {str(folder): names for folder, names in folders.items()}
        self.changed = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _WRITES or event.is_directory:
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = Path(raw if isinstance(raw, str) else raw.decode(errors="replace"))
            if raw and path.name in self.folders.get(str(path.parent), ()):
                self.changed.set()


class _Interrupt:
    """Ctrl-C stops at once, while waiting for a save and in the middle of a grade.

    A grade that is broken into is abandoned: nothing of it is printed or
    written. Waiting for it to end would keep a student facing an endless
    loop waiting for the whole time limit.
    """

    def __init__(self) -> None:
        self.grading = False
        # The judge swaps sys.stderr for a buffer while the checks run: a copy of the
        # terminal's stderr, taken now, still reaches the student.
        self.terminal = os.dup(2)

    def close(self) -> None:
        os.close(self.terminal)

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.grading:
            self._say("stopping now; this grade is abandoned")
        raise KeyboardInterrupt

    def _say(self, text: str) -> None:
        os.write(self.terminal, f"{text}\n".encode(errors="replace"))


def watch(
    folders: dict[Path, set[str]],
    grade_once: Callable[[], object],
    *,
    echo: Callable[[str], Any] = click.echo,
    quiet: float = QUIET,
) -> int:
    """Grade now and again after every save in ``folders``, until Ctrl-C; return exit status 0."""
    saves = _Saves(folders)
    observer = Observer()
    for folder in folders:
        observer.schedule(saves, str(folder), recursive=False)
    # Started before the first grade, so a save during it is not missed.
    observer.start()
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    shown = ", ".join(sorted(f"{folder.name}/" for folder in folders))
    try:
        while True:
            _redraw(echo)
            interrupt.grading = True
            grade_once()
            interrupt.grading = False
            echo(f"watching {shown} for saves (Ctrl-C to stop)")
            _wait_for_save(saves.changed, quiet)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupt.close()
        observer.stop()
        observer.join(timeout=5)
    echo("stopped watching")
    return 0


def _wait_for_save(changed: threading.Event, quiet: float) -> None:
    # A timeout keeps the main thread responsive to Ctrl-C on every platform.
    while not changed.wait(timeout=0.5):
        pass
    changed.clear()
    while changed.wait(timeout=quiet):  # the same save still being written
        changed.clear()


def _redraw(echo: Callable[[str], Any]) -> None:
    if sys.stdout.isatty():
        click.clear()
    else:
        echo(f"--- {time.strftime('%H:%M:%S')} ---")
