"""``grade 03 --watch`` grades again after each save and ends cleanly on Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import COURSE, GRADE

SOLUTIONS = COURSE / "solutions" / "03_multi_input_grads"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is how the test stops it")


class Watcher:
    """A running ``grade --watch`` whose output lines are read as they come."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("GITHUB_ACTIONS", None)
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def next_line(self, pattern: str, timeout: float = 180) -> re.Match[str]:
        """Return the match of the next output line that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
                continue
            self.seen.append(line)
            match = re.match(pattern, line)
            if match:
                return match
        pytest.fail(f"no line matching {pattern!r} in time:\n" + "\n".join(self.seen))

    def next_total(self) -> str:
        """Return the score of the next summary's total line."""
        return self.next_line(r"^total\s+(\S+)$").group(1)

    def wait_until_watching(self) -> None:
        self.next_line(r"^watching ")


def _save(path: Path, source: Path) -> None:
    # As an editor does: the new text in place of the old, in one write.
    path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def test_watch_grades_each_save_and_stops_on_ctrl_c(course_copy, tmp_path: Path) -> None:
    assert GRADE, "the grade command is not installed (pip install -e .)"
    course = course_copy()
    exercise = course / "exercises" / "03_multi_input_grads" / "exercise.py"
    watcher = Watcher(
        [GRADE, "03", "--watch", "--seed", "1", "--html", str(tmp_path / "r.html")], course
    )
    try:
        assert watcher.next_total() == "0/10"  # the untouched stub, graded at once
        watcher.wait_until_watching()
        _save(exercise, SOLUTIONS / "mistakes" / "mean_instead_of_sum.py")
        assert watcher.next_total() == "7/10"
        watcher.wait_until_watching()
        _save(exercise, SOLUTIONS / "solution.py")
        assert watcher.next_total() == "10/10"
        watcher.wait_until_watching()
        watcher.process.send_signal(signal.SIGINT)
        code = watcher.process.wait(timeout=60)
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
            watcher.process.wait()
    stderr = watcher.process.stderr.read()  # type: ignore[union-attr]
    assert code == 0, stderr
    assert "Traceback" not in stderr
    # One summary per save: the debounce turned each save's events into one grade.
    assert sum(line.startswith("total") for line in watcher.seen) == 3


def test_watch_needs_a_course_folder_it_can_watch(run_grade, tmp_path: Path) -> None:
    shutil.copy(COURSE / "course.toml", tmp_path / "course.toml")
    done = run_grade("03", "--watch", cwd=tmp_path)
    assert done.code == 2 and "unknown exercise" in done.stderr
