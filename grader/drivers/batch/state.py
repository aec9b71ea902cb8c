"""The state of OUT: who holds it, the seed, each student's kept results, and the plan.

A student's state file is written atomically as soon as the student is
graded, so an interrupted run loses nothing already graded; the next run
with the same OUT grades only exercises whose files or checks changed, and
only when the grader, the seed and the limits are the same (``fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader import __version__
from grader.course.find import Exercise
from grader.drivers.batch.errors import BatchError
from grader.engine.exercise import Settings
from grader.engine.parcel import Parcel, digest_of
from grader.intake import Handed, Placed, read_handed
from grader.render.atomic import write_atomic
from grader.run.executors import Limits

__all__ = [
    "Job",
    "States",
    "load_state",
    "only_batch_in",
    "plan",
    "record_state",
    "seed_for",
    "with_plots",
    "without_plots",
]

# Each student's state as this process holds it: the fingerprint and the results
# per exercise, without their plots (see ``plan``).
States = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Job:
    """One student's exercises still to grade: the files, not yet read."""

    student: str
    files: tuple[tuple[str, Handed | None], ...]

    def pack(self) -> Parcel:
        """Read the student's files now, just before they are sent to a worker."""
        return Parcel(self.student, tuple((name, read_handed(f)) for name, f in self.files))


def _state_path(out: Path, student: str) -> Path:
    name = quote(student, safe="")
    if len(name) > 200:  # a long CJK name quoted passes the 255 bytes of a file name
        name = name[:120] + "-" + hashlib.sha256(student.encode()).hexdigest()[:16]
    return out / ".state" / f"{name}.json"


def load_state(out: Path, student: str) -> dict[str, Any]:
    """Return a student's kept state, whole (with plots); {} when absent or damaged."""
    try:
        state = json.loads(_state_path(out, student).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}  # absent or damaged: grade again


def _fingerprint(seed: int, limits: Limits) -> str:
    # No language: the kept results hold hint ids, written in --lang's language at the end.
    return f"{__version__}:{seed}:{limits.timeout}:{limits.memory}:{limits.output}"


def plan(
    students: list[Placed],
    exercises: list[Exercise],
    out: Path,
    force: bool,
    settings: Settings,
) -> tuple[States, list[Job]]:
    """Return every student's kept state and the exercises still to grade (changed files).

    The states held here leave out the plots (most of a result's size: a loss curve
    per student); they stay in each student's state file, read back one student at a
    time, so this process's memory does not grow with the plots of the whole class.
    """
    fingerprint = _fingerprint(settings.seed, settings.limits)
    states: States = {}
    pending: list[Job] = []
    checks = {exercise.name: exercise.checks_digest for exercise in exercises}
    for student in students:
        state = {} if force else load_state(out, student.name)
        if state.get("fingerprint") != fingerprint:
            state = {}
        kept = state.get("exercises", {})
        todo = []
        for exercise in exercises:
            digest = digest_of(read_handed(student.files[exercise.name]))
            old = kept.get(exercise.name)
            if (
                old is None
                or old.get("file_digest") != digest
                or old.get("checks_digest") != checks[exercise.name]
            ):
                todo.append(exercise.name)
        states[student.name] = {
            "fingerprint": fingerprint,
            "exercises": {name: without_plots(result) for name, result in kept.items()},
        }
        if todo:
            pending.append(Job(student.name, tuple((e, student.files[e]) for e in todo)))
    return states, pending


def record_state(out: Path, states: States, student: str, done: dict[str, dict[str, Any]]) -> None:
    """Keep a student's newly graded exercises, on disk at once and (without plots) here."""
    state = states[student]
    # The kept results come back whole (with their plots) from the student's file.
    on_disk = load_state(out, student).get("exercises", {})
    whole = {name: on_disk.get(name, kept) for name, kept in state["exercises"].items()}
    whole.update(done)
    write_atomic(_state_path(out, student), json.dumps({**state, "exercises": whole}))
    state["exercises"].update({name: without_plots(r) for name, r in done.items()})


@contextmanager
def only_batch_in(out: Path) -> Iterator[None]:
    """Hold OUT for this batch: a second one into the same folder would interleave two seeds."""
    import fcntl

    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / ".lock", "a+", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise BatchError(f"{out}: cannot write the output folder ({exc.strerror})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise BatchError(
                f"another grade batch (pid {holder}) is writing to {out}: "
                "wait for it to finish, or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield  # the kernel drops the lock when this process ends, however it ends


def seed_for(out: Path, seed: int | None) -> int:
    """Return the seed to grade with: the one asked for, OUT's previous one, or a fresh one.

    Kept at once, not only in results.json at the end: an interrupted first run
    resumes with the seed its graded students were graded with.
    """
    chosen = seed if seed is not None else _previous_seed(out) or _fresh_seed()
    write_atomic(out / ".state" / "seed", str(chosen))
    return chosen


def _fresh_seed() -> int:
    return random.SystemRandom().randrange(1, 10**6)


def _previous_seed(out: Path) -> int | None:
    try:
        seed = json.loads((out / "results.json").read_text(encoding="utf-8")).get("seed")
        return int(seed) if seed is not None else None
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    try:
        return int((out / ".state" / "seed").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def without_plots(result: dict[str, Any]) -> dict[str, Any]:
    """Return ``result`` with its plots left out (kept on disk, in the student's state file)."""
    # An empty list in their place keeps the record's shape and its keys' order.
    return {**result, "plots": []} if "plots" in result else result


def with_plots(out: Path, students: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield each student's record with its plots, read back from the student's state file."""
    for record in students:
        on_disk = load_state(out, record["student"]).get("exercises", {})
        yield {
            **record,
            "exercises": [
                {**e, "plots": on_disk.get(e["exercise"], {}).get("plots", [])}
                for e in record["exercises"]
            ],
        }
