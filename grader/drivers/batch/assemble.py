"""Write the class's files at the end: results.json, grades.csv, index.html and the reports.

Every text is put in the class's language once (``written_student`` with one
``Locale``), from the kept states, one student at a time, so the class is
held once, never twice; the reports are drawn on other processes while this
one writes the rest.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from grader.course.find import Course, Exercise
from grader.drivers.batch.state import States, with_plots
from grader.intake import Intake, report_folders, write_feedback
from grader.render import export, plots
from grader.render.atomic import write_atomic
from grader.render.locale import Locale
from grader.render.report import render_class_overview, render_student_report
from grader.render.terminal import few_names
from grader.review.overview import Review, add_review
from grader.run.process import helper_process
from grader.score.points import results_document, student_result, to_json
from grader.score.results import written_student

__all__ = ["assemble"]


def _init_reports() -> None:
    helper_process("grade-reports")


def assemble(
    course: Course,
    out: Path,
    exercises: list[Exercise],
    states: States,
    seed: int,
    locale: Locale,
    trust: bool,
    review: Review | None = None,
    sources: dict[str, dict[str, str]] | None = None,
    jobs: int = 1,
    intake: Intake | None = None,
) -> dict[str, Any]:
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
        write_atomic(out / "results.json", _results_json(results, with_plots(out, students)))
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
    name, left_out = write_feedback(out, intake, folders)
    if name and left_out:
        click.echo(
            f"grade: {name}: left out {len(left_out)} student(s) the platform could not "
            f"match a report to (no uploaded file to attach it to): {few_names(left_out)}",
            err=True,
        )


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
        records = with_plots(out, students)
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
    return render_student_report(
        record, seed=seed, locale=locale, templates=course.templates, title=course.title
    )
