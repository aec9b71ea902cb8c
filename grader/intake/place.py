"""Put one student's files where the course expects them: the Gradescope template's intake.

``python -m grader.intake.place SUBMISSION COURSE`` places the files of
SUBMISSION (one student's upload) on the exercises of the course copy
COURSE, as ``grade batch`` places a student's files, and writes each as
``COURSE/exercises/NN_name/exercise.py`` (or ``.ipynb``). Only the placed
files' bytes are written, at names taken from the course, never from the
upload: a submission that brings its own checks/, grader/ or course.toml,
or a link out of the upload, gets nothing past this.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grader.intake.placement import read_handed, take_one
from grader.render.terminal import clean_for_terminal

__all__ = ["place_into"]

_EXERCISE = re.compile(r"^\d+_[A-Za-z0-9_]+$")


def place_into(submission: Path, course: Path) -> list[str]:
    """Write the submission's placed files into the course copy; return what to tell the log."""
    folders = sorted(p for p in (course / "exercises").iterdir() if p.is_dir())
    exercises = [p.name for p in folders if _EXERCISE.match(p.name)]
    placed = take_one(submission.resolve(), exercises)
    lines = []
    for exercise in exercises:
        handed = placed.files.get(exercise)
        file = read_handed(handed)
        if handed is None or file is None:
            lines.append(f"{exercise}: nothing handed in")
            continue
        if file.raw is None:
            lines.append(f"{exercise}: skipped {clean_for_terminal(file.problem)}")
            continue
        suffix = ".ipynb" if handed.path.suffix.lower() == ".ipynb" else ".py"
        (course / "exercises" / exercise / f"exercise{suffix}").write_bytes(file.raw)
        lines.append(f"{exercise}: {clean_for_terminal(handed.shown)}")
    for choice in placed.choices:
        lines.append(
            f"{choice.exercise}: used {clean_for_terminal(choice.used)}, the latest of several "
            f"(not {', '.join(clean_for_terminal(o) for o in choice.others)})"
        )
    for path, why in placed.unplaced:
        lines.append(f"not graded: {clean_for_terminal(path)}: {why}")
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m grader.intake.place SUBMISSION COURSE")
    for line in place_into(Path(sys.argv[1]), Path(sys.argv[2])):
        print(line)
