"""Grade a whole class: every student's exercises, in parallel, resumable.

Layout of OUT:
  results.json, grades.csv, index.html   the class (rewritten at the end)
  <student>/report.html                  what the student gets back
  .state/<student>.json                  a student's graded exercises with the
                                         digests of the files they came from

A student's state file is written atomically as soon as the student is
graded, so an interrupted run loses nothing already graded; the next run
with the same OUT grades only exercises whose files changed.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from grader import __version__
from grader.course.find import Course, Exercise
from grader.engine.exercise import Settings, secrets_of
from grader.engine.parcel import Parcel, digest_of, grade_parcel
from grader.intake import (
    Handed,
    Intake,
    IntakeError,
    Placed,
    intake_table,
    opened,
    read_handed,
    report_folders,
    roster_from,
    take,
    write_feedback,
)
from grader.render import plots
from grader.render.atomic import write_atomic
from grader.render.locale import Locale
from grader.review.gradebook import RosterError
from grader.review.overview import Review, add_review, sources_of
from grader.run.executors import Executor, Limits
from grader.run.gate import TRUST_SUBMISSIONS, refuse_half_confined
from grader.run.process import die_with_parent, name_process
from grader.score.points import results_document, student_result, to_json
from grader.score.results import crashed_checks, written_student

__all__ = ["run", "BatchError", "students_in"]


class BatchError(Exception):
    """A one-line reason why the batch cannot run."""


@dataclass(frozen=True)
class _Job:
    student: str
    files: tuple[tuple[str, Handed | None], ...]

    def pack(self) -> Parcel:
        """Read the student's files now, just before they are sent to a worker."""
        return Parcel(self.student, tuple((name, read_handed(f)) for name, f in self.files))


# -- input -----------------------------------------------------------------
def students_in(root: Path) -> list[Path]:
    """Return the student folders under ``root``, sorted by name."""
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))
    )


# -- the state of OUT ---------------------------------------------------------
def _state_path(out: Path, student: str) -> Path:
    name = quote(student, safe="")
    if len(name) > 200:  # a long CJK name quoted passes the 255 bytes of a file name
        import hashlib

        name = name[:120] + "-" + hashlib.sha256(student.encode()).hexdigest()[:16]
    return out / ".state" / f"{name}.json"


def _load_state(out: Path, student: str) -> dict[str, Any]:
    try:
        state = json.loads(_state_path(out, student).read_text(encoding="utf-8"))
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}  # absent or damaged: grade again


def _fingerprint(seed: int, limits: Limits) -> str:
    # No language: the kept results hold hint ids, written in --lang's language at the end.
    return f"{__version__}:{seed}:{limits.timeout}:{limits.memory}:{limits.output}"


# -- the workers ----------------------------------------------------------------
@dataclass
class _Worker:
    """One grading process's course, settings and warm executor, built per run."""

    course: Course
    settings: Settings
    executor: Executor
    at_once: int
    # How this machine confines a child, asked once before the first student's code runs.
    sandbox: dict[str, Any] | None = None

    @classmethod
    def start(cls, course_root: str, settings: Settings, hide: list[str], at_once: int) -> _Worker:
        from grader.run.executors.warm_fork import warm_executor

        course = Course.load(Path(course_root))
        return cls(course, settings, warm_executor(hide), at_once)

    def grade(self, parcel: Parcel) -> tuple[str, dict[str, dict[str, Any]]]:
        """Grade one student's parcel, refusing first if the sandbox falls short here.

        The sandbox is asked of a child started exactly as every submission's
        will be, so the answer is about this machine, this user and this Python.
        """
        if self.sandbox is None:
            self.sandbox = refuse_half_confined(
                self.executor, self.settings, way_out=TRUST_SUBMISSIONS
            )
        return grade_parcel(parcel, self.course, self.settings, self.executor, self.at_once)

    def close(self) -> None:
        self.executor.close()


# Each process of the pool holds its own worker, set up by the pool's initializer
# (a spawned process gets its state from there, not from its parent).
_pool_worker: _Worker | None = None


def _init_worker(course_root: str, settings: Settings, hide: list[str], at_once: int) -> None:
    global _pool_worker
    _ignore_interrupts()
    name_process("grade-worker")
    _pool_worker = _Worker.start(course_root, settings, hide, at_once)


def _grade_job(parcel: Parcel) -> tuple[str, dict[str, dict[str, Any]]]:
    assert _pool_worker is not None, "the pool's initializer sets the worker up"
    return _pool_worker.grade(parcel)


def _init_reports() -> None:
    _ignore_interrupts()
    name_process("grade-reports")


def _ignore_interrupts() -> None:
    """Leave Ctrl-C to the batch's own process, and die with it (no worker tracebacks)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


# -- the batch ----------------------------------------------------------------
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
        with _only_batch_in(out):
            seed = seed if seed is not None else _previous_seed(out) or _fresh_seed()
            # Kept at once, not only in results.json at the end: an interrupted first run
            # resumes with the seed its graded students were graded with.
            write_atomic(out / ".state" / "seed", str(seed))
            settings = Settings(seed=seed, limits=limits, require_sandbox=not trust)
            states, pending = _plan(course, students, exercises, out, force, settings)
            hide = [*secrets_of(course), str(root), str(submissions.resolve()), str(out)]
            graded = _grade_all(course, settings, hide, pending, jobs, out, states, cluster)
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
            _assemble(
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


def _plan(
    course: Course,
    students: list[Placed],
    exercises: list[Exercise],
    out: Path,
    force: bool,
    settings: Settings,
) -> tuple[dict[str, dict[str, Any]], list[_Job]]:
    """Return every student's kept state and the exercises still to grade (changed files).

    The states held here leave out the plots (most of a result's size: a loss curve
    per student); they stay in each student's state file, read back one student at a
    time, so this process's memory does not grow with the plots of the whole class.
    """
    fingerprint = _fingerprint(settings.seed, settings.limits)
    states: dict[str, dict[str, Any]] = {}
    pending: list[_Job] = []
    checks = {exercise.name: exercise.checks_digest for exercise in exercises}
    for student in students:
        state = {} if force else _load_state(out, student.name)
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
            "exercises": {name: _without_plots(result) for name, result in kept.items()},
        }
        if todo:
            pending.append(_Job(student.name, tuple((e, student.files[e]) for e in todo)))
    return states, pending


@contextmanager
def _only_batch_in(out: Path) -> Iterator[None]:
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


def _fresh_seed() -> int:
    import random

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


def _grade_all(
    course: Course,
    settings: Settings,
    hide: list[str],
    pending: list[_Job],
    jobs: int,
    out: Path,
    states: dict[str, dict[str, Any]],
    cluster: str | None = None,
) -> int:
    def record(student: str, done: dict[str, dict[str, Any]]) -> None:
        state = states[student]
        # The kept results come back whole (with their plots) from the student's file.
        on_disk = _load_state(out, student).get("exercises", {})
        whole = {name: on_disk.get(name, kept) for name, kept in state["exercises"].items()}
        whole.update(done)
        write_atomic(_state_path(out, student), json.dumps({**state, "exercises": whole}))
        state["exercises"].update({name: _without_plots(r) for name, r in done.items()})
        progress.step(student, done)

    progress = _Progress(len(pending))
    if not pending:
        return 0
    if cluster is not None:
        from grader.drivers.cluster import ClusterError, grade_on_cluster  # imports dask: only here

        try:
            parcels = (job.pack() for job in pending)  # read as the cluster asks for more
            grade_on_cluster(cluster, course, settings, hide, parcels, record, workers=jobs)
        except ClusterError as exc:
            raise BatchError(str(exc)) from None
        return len(pending)
    # Fewer students than cores (a class of 3 on 16): one worker per student, each
    # grading its exercises side by side in as many children as the cores allow.
    workers = min(jobs, len(pending))
    at_once = max(1, jobs // workers)
    if workers <= 1:
        worker = _Worker.start(str(course.root), settings, hide, at_once)
        try:
            for job in pending:
                record(*worker.grade(job.pack()))
        finally:
            worker.close()
        return len(pending)
    context = multiprocessing.get_context("spawn")  # workers never inherit a torch or a thread
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(course.root), settings, hide, at_once),
    ) as pool:
        # A few students per worker in flight, read just before they are sent: a class
        # of thousands is never all in memory at once (nor all in the pool's queue).
        todo = iter(pending)
        waiting: set[Future[tuple[str, dict[str, dict[str, Any]]]]] = set()
        try:
            while True:
                for job in itertools.islice(todo, 4 * workers - len(waiting)):
                    waiting.add(pool.submit(_grade_job, job.pack()))
                if not waiting:
                    break
                # While the workers start (torch, seconds), this process loads matplotlib: the
                # overview needs it, and the reports' processes are forked with it loaded.
                plots.warm_up(wait=True)
                finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(*future.result())
        except BaseException:
            # Ctrl-C, a refused sandbox or a broken environment: stop at once; what is
            # graded is already on disk, and the running students are graded again next time.
            running = list((getattr(pool, "_processes", None) or {}).values())
            manager = getattr(pool, "_executor_manager_thread", None)
            pool.shutdown(wait=False, cancel_futures=True)
            for process in running:
                process.kill()
            if manager is not None:
                # Its pool broken, it ends; ended before we do, or Python 3.11.2's exit
                # hook writes to the pipe it is closing and prints a traceback.
                manager.join(timeout=10)
            raise
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


def _assemble(
    course: Course,
    out: Path,
    exercises: list[Exercise],
    states: dict[str, dict[str, Any]],
    seed: int,
    locale: Locale,
    trust: bool,
    review: Review | None = None,
    sources: dict[str, dict[str, str]] | None = None,
    jobs: int = 1,
    intake: Intake | None = None,
) -> dict[str, Any]:
    from grader.render import export
    from grader.render.report import render_class_overview

    # Every text in the class's language, once, before anything is written. Each
    # student's state is consumed as its record is made: the class is held once, not twice.
    folders = report_folders(states)
    identities = {s.name: s.identity.record() for s in (intake.students if intake else [])}
    students = []
    for student in sorted(states):
        kept = states.pop(student)["exercises"]
        records = []
        for exercise in exercises:
            result = dict(kept[exercise.name])
            result.pop("file_digest", None)
            result.pop("checks_digest", None)
            records.append(result)
        written = written_student(student_result(student, records), locale)
        if student in identities:
            written = {**written, "identity": identities[student]}
        students.append(written)
    results = {**results_document([], seed=seed), "lang": locale.lang, "students": students}
    results["trusted_submissions"] = trust
    if intake is not None:
        results["intake"] = intake.record()
    add_review(
        out,
        results,
        course=course,
        exercises=exercises,
        sources=sources or {},
        review=review or Review(),
        locale=locale,
        report_href=lambda s: f"{quote(folders.get(s, s))}/report.html",
    )
    # The reports are drawn on other processes while this one writes the rest (after the
    # review, whose fingerprints of the whole class are gone by then: memory stays flat).
    reports = _Reports(out, students, seed, locale, course, jobs, folders)
    try:
        write_atomic(out / "results.json", _results_json(results, _with_plots(out, students)))
        write_atomic(out / "grades.csv", export.grades_csv(results))
        overview = render_class_overview(
            results,
            locale=locale,
            templates=course.templates,
            title=course.title,
            report_href=lambda s: f"{quote(folders.get(s, s))}/report.html",
        )
        write_atomic(out / "index.html", overview)
    finally:
        reports.wait()
    if intake is not None:
        _give_back(out, intake, folders)
    return results


def _give_back(out: Path, intake: Intake, folders: dict[str, str]) -> None:
    """Write the platform's feedback zip; name on stderr whom it could not include."""
    from grader.render.terminal import few_names

    name, left_out = write_feedback(out, intake, folders)
    if name and left_out:
        click.echo(
            f"grade: {name}: left out {len(left_out)} student(s) the platform could not "
            f"match a report to (no uploaded file to attach it to): {few_names(left_out)}",
            err=True,
        )


def _without_plots(result: dict[str, Any]) -> dict[str, Any]:
    # An empty list in their place keeps the record's shape and its keys' order.
    return {**result, "plots": []} if "plots" in result else result


def _with_plots(out: Path, students: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield each student's record with its plots, read back from the student's state file."""
    for record in students:
        on_disk = _load_state(out, record["student"]).get("exercises", {})
        yield {
            **record,
            "exercises": [
                {**e, "plots": on_disk.get(e["exercise"], {}).get("plots", [])}
                for e in record["exercises"]
            ],
        }


def _results_json(results: dict[str, Any], students: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Yield ``results`` as to_json writes it, one student at a time from ``students``."""
    head, tail = to_json({**results, "students": []}).split('"students": []', 1)
    yield head + '"students": ['
    for number, student in enumerate(students):
        yield ("," if number else "") + "\n    " + to_json(student, depth=2)
    yield "\n  ]" + tail


class _Reports:
    """Render every student's report on ``jobs`` processes and write it, on a thread.

    A report's plots cost matplotlib about half a second per student: drawn one
    after another in this process they took longer than grading the class. The
    processes are forked from this one with the drawing stack already loaded
    (spawned ones spent most of a second importing it), and the thread writes
    each page while the batch writes the class's own files. Only a few students
    are in flight at once, so neither their records nor their pages are ever
    all in memory.
    """

    def __init__(
        self,
        out: Path,
        students: list[dict[str, Any]],
        seed: int,
        locale: Locale,
        course: Course,
        jobs: int,
        folders: dict[str, str] | None = None,
    ) -> None:
        self._out = out
        self._names = [s["student"] for s in students]
        self._folders = folders or report_folders(self._names)
        self._error: BaseException | None = None
        render = partial(_render_report, seed=seed, locale=locale, course=course)
        records = _with_plots(out, students)
        pages: Iterator[str]
        if jobs <= 1 or len(students) < 4 * jobs:
            pages = map(render, records)
        else:
            pages = self._rendered_on(self._pool(jobs), render, records, 4 * jobs)
            next_page = next(pages)  # the processes start now, before the thread does
            pages = itertools.chain([next_page], pages)
        self._thread = threading.Thread(target=self._write, args=(pages,), name="reports")
        self._thread.start()

    @staticmethod
    def _pool(jobs: int) -> ProcessPoolExecutor:
        from grader.render import report  # noqa: F401 -- loaded once, here, for every fork

        plots.warm_up(wait=True)  # done while the workers started, if there were any
        # Fork only from a single thread (a lock held by another would stay held in the
        # child for good), and only on Linux (macOS's system libraries do not survive it).
        fork = sys.platform == "linux" and threading.active_count() == 1
        context = multiprocessing.get_context("fork" if fork else "spawn")
        return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_reports)

    @staticmethod
    def _rendered_on(
        pool: ProcessPoolExecutor, render: Any, records: Iterator[dict[str, Any]], window: int
    ) -> Iterator[str]:
        with pool:
            in_flight: deque[Future[str]] = deque()
            for record in records:
                in_flight.append(pool.submit(render, record))
                if len(in_flight) >= window:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def _write(self, pages: Iterator[str]) -> None:
        try:
            for name, page in zip(self._names, pages, strict=True):
                write_atomic(self._out / self._folders[name] / "report.html", page)
        except BaseException as exc:  # noqa: BLE001 -- raised again by wait(), in the batch
            self._error = exc

    def wait(self) -> None:
        """Wait until every report is written; raise what stopped the writing, if anything."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def _render_report(record: dict[str, Any], *, seed: int, locale: Locale, course: Course) -> str:
    from grader.render.report import render_student_report

    return render_student_report(
        record, seed=seed, locale=locale, templates=course.templates, title=course.title
    )
