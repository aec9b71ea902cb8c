"""Grade a whole class: every student's exercises, in parallel, resumable.

Layout of OUT:
  results.json, grades.csv, index.html   the class (rewritten at the end)
  <student>/report.html                  what the student gets back
  .state/<student>.json                  a student's graded exercises with the
                                         digests of the files they came from

The stages, in order, each a module of this package: the intake (a folder
or a zip, ``grader.intake``), the state of OUT and the plan of what changed
(``state``), the dispatch of parcels to local workers or a Dask cluster
(``dispatch``), and the class's files at the end (``assemble``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from grader.course.find import Course, Exercise
from grader.drivers.batch.assemble import assemble
from grader.drivers.batch.dispatch import Dispatch, dispatch_for
from grader.drivers.batch.errors import BatchError
from grader.drivers.batch.state import Job, States, only_batch_in, plan, record_state, seed_for
from grader.engine.exercise import Settings, secrets_of
from grader.intake import (
    Intake,
    IntakeError,
    intake_table,
    opened,
    read_handed,
    roster_from,
    take,
)
from grader.render.locale import Locale
from grader.review.gradebook import RosterError
from grader.review.overview import Review, sources_of
from grader.run.executors import Limits
from grader.score.results import crashed_checks

__all__ = ["run", "students_in"]


def students_in(root: Path) -> list[Path]:
    """Return the student folders under ``root``, sorted by name."""
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))
    )


def run(
    course: Course,
    submissions: Path,
    out: Path,
    *,
    exercises: list[Exercise],
    jobs: int,
    force: bool,
    seed: int | None,
    lang: str,
    limits: Limits,
    trust: bool = False,
    review: Review | None = None,
    cluster: str | None = None,
    layout: str | None = None,
) -> str:
    """Grade every student in ``submissions`` into ``out``; return a one-line summary.

    ``cluster`` is a Dask scheduler's address (or ``local``) to grade on instead
    of this machine's worker processes; ``layout`` (canvas, moodle, repos,
    folders) says how the submissions are laid out, None to recognise it.
    """
    out = out.resolve()
    review = review or Review()
    locale = Locale(course.templates, lang)  # the language of every file written at the end
    started = time.monotonic()
    with _opened(submissions.resolve()) as root:
        if out.is_relative_to(root):
            raise BatchError("--out must not be inside the submissions folder")
        found = _intake(course, root, exercises, layout)
        students = found.students
        if review.gradebook and review.roster is None:
            try:
                review = replace(review, roster=roster_from(found, review.gradebook))
            except RosterError as exc:
                raise BatchError(str(exc)) from None
        # Before grading: what was found, so a wrong layout costs no class's time.
        click.echo(intake_table(found, [e.name for e in exercises]), err=True)
        # Only now, with the input known to be good (a refused zip leaves no folder
        # behind), OUT is taken, until the class overview is written.
        with only_batch_in(out):
            seed = seed_for(out, seed)
            settings = Settings(seed=seed, limits=limits, require_sandbox=not trust)
            states, pending = plan(students, exercises, out, force, settings)
            hide = [*secrets_of(course), str(root), str(submissions.resolve()), str(out)]
            dispatch = dispatch_for(course, settings, hide, jobs, len(pending), cluster)
            graded = _grade_all(dispatch, pending, out, states)
            # Read (never run) while a .zip is still unpacked: the near-copy search needs it.
            sources = sources_of(
                (s.name, ((e.name, read_handed(s.files[e.name])) for e in exercises))
                for s in students
            )
            crashed = {
                s: c
                for s, state in states.items()
                if (c := crashed_checks(state["exercises"].values()))
            }
            assemble(
                course, out, exercises, states, seed, locale, trust, review, sources, jobs, found
            )
    elapsed = time.monotonic() - started
    summary = (
        f"graded {graded} student(s), kept {len(students) - graded} unchanged, "
        f"in {elapsed:.1f}s (seed {seed}); results in {out}"
    )
    if crashed:
        # Written and kept, but those students lack points for no doing of theirs.
        names = ", ".join(sorted({name for checks in crashed.values() for name in checks})[:3])
        raise BatchError(
            f"{summary}; but checks could not run for {len(crashed)} student(s) ({names}): "
            "a fault of the checks, not of the submissions. Fix them and run again: "
            "an edited check grades its exercise again for the whole class"
        )
    return summary


@contextmanager
def _opened(submissions: Path) -> Iterator[Path]:
    try:
        with opened(submissions) as root:
            yield root
    except IntakeError as exc:
        raise BatchError(str(exc)) from None


def _intake(course: Course, root: Path, exercises: list[Exercise], layout: str | None) -> Intake:
    """Find the students and place their files on the exercises, or raise BatchError."""
    try:
        return take(root, [e.name for e in course.exercises], [e.name for e in exercises], layout)
    except IntakeError as exc:
        raise BatchError(str(exc)) from None


def _grade_all(dispatch: Dispatch, pending: list[Job], out: Path, states: States) -> int:
    """Grade the pending students by ``dispatch``, keeping each one's state as it comes."""
    progress = _Progress(len(pending))

    def record(student: str, done: dict[str, dict[str, Any]]) -> None:
        record_state(out, states, student, done)
        progress.step(student, done)

    if pending:
        # Each parcel is read as the dispatch asks for more: never the whole class at once.
        dispatch.grade((job.pack() for job in pending), record)
    return len(pending)


class _Progress:
    """A bar with an ETA on a terminal; one plain line per student elsewhere (CI logs)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.tty = sys.stderr.isatty()
        self._bar = None
        if self.tty and total:
            self._bar = click.progressbar(
                length=total, label="grading", show_eta=True, file=sys.stderr
            )
            self._bar.__enter__()

    def step(self, student: str, done: dict[str, dict[str, Any]]) -> None:
        self.count += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.count == self.total:
                self._bar.__exit__(None, None, None)
            return
        from grader.render.terminal import clean_for_terminal

        score = sum(r["score"] for r in done.values())
        maximum = sum(r["max_score"] for r in done.values())
        click.echo(
            f"[{self.count}/{self.total}] {clean_for_terminal(student)}: {score:g}/{maximum:g}",
            err=True,
        )
