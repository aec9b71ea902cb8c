"""Add the instructor's review of a graded class to OUT: mistakes, near-copies, gradebook.

Called once the class is graded (``grader.drivers.batch``). What it adds to the
results document and writes beside it:

- ``results["mistakes"]`` and ``mistakes.csv``: which hints how many
  students got (``grader.review.mistakes``);
- ``results["similarity"]``, ``similarity.csv`` and ``similarity/pair-NNNN.html``:
  pairs of submissions alike beyond the stub and the class's common idiom,
  for a human to look at (``grader.review.similarity``); never a verdict, and no
  score depends on it;
- with a roster, ``gradebook-<platform>.csv`` and ``gradebook-unmatched.csv``
  (``grader.review.gradebook``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from grader.course.find import Course, Exercise
from grader.render import export
from grader.render.atomic import write_atomic
from grader.render.locale import Locale
from grader.review import mistakes, similarity
from grader.review.gradebook import Roster, gradebook_table
from grader.submission.source import SourceFile, SubmissionError, read_for_student

__all__ = ["Review", "read_sources", "sources_of", "add_review"]

PAIRS = "similarity"  # folder of OUT that holds the side-by-side pages


@dataclass(frozen=True)
class Review:
    """What the instructor asked of the review: the similarity threshold, a gradebook roster."""

    similarity_threshold: float = similarity.DEFAULT_THRESHOLD
    roster: Roster | None = None
    # --gradebook without --roster: the roster is built from the download's ids.
    gradebook: str | None = None


def read_sources(folders: list[Path], exercises: list[Exercise]) -> dict[str, dict[str, str]]:
    """Read every student's exercise files as text, for the near-copy search.

    Only read, never run: notebooks are parsed for their code cells, as
    grading does, and a file that cannot be read is left out of the search.
    """
    return sources_of(
        (folder.name, ((e.name, read_for_student(folder, e.name)) for e in exercises))
        for folder in folders
    )


def sources_of(
    students: Iterable[tuple[str, Iterable[tuple[str, SourceFile | None]]]],
) -> dict[str, dict[str, str]]:
    """Read each student's (exercise, file) pairs as text, for the near-copy search."""
    sources: dict[str, dict[str, str]] = {}
    for student, files in students:
        work = sources.setdefault(student, {})
        for exercise, file in files:
            if file is None:
                continue
            try:
                chunks = file.source().chunks
            except SubmissionError:
                continue
            work[exercise] = "\n".join(text for _, text in chunks)
    return sources


def _stub(exercise: Exercise) -> str:
    try:
        return (exercise.folder / "exercise.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def add_review(
    out: Path,
    results: dict[str, Any],
    *,
    course: Course,
    exercises: list[Exercise],
    sources: dict[str, dict[str, str]],
    review: Review,
    locale: Locale,
    report_href: Callable[[str], str],
) -> None:
    """Add mistakes, near-copies and the gradebook to ``results``; write their files to ``out``."""
    from grader.render.report import render_near_copy

    results["mistakes"] = mistakes.common_mistakes(results, locale)
    write_atomic(out / "mistakes.csv", export.mistakes_csv(results["mistakes"]))

    stubs = {e.name: _stub(e) for e in exercises}
    pairs = similarity.near_copies(sources, stubs, threshold=review.similarity_threshold)
    for old in (out / PAIRS).glob("pair-*.html"):
        old.unlink(missing_ok=True)  # pages of an earlier run's pairs would mislead
    records = []
    for number, pair in enumerate(pairs, start=1):
        record = {**asdict(pair), "page": f"{PAIRS}/pair-{number:04d}.html"}
        del record["lines"]
        page = render_near_copy(
            record,
            pair.lines,
            {e: (sources[pair.student_a][e], sources[pair.student_b][e]) for e in pair.lines},
            locale=locale,
            templates=course.templates,
            title=course.title,
            report_href=lambda s: "../" + report_href(s),
        )
        write_atomic(out / record["page"], page)
        records.append(record)
    results["similarity"] = {
        "method": f"winnowing (k={similarity.K}, window={similarity.WINDOW})",
        "threshold": review.similarity_threshold,
        "pairs": records,
        "groups": [
            {
                "exercise": group.exercise,
                "students": list(group.students),
                "similarity": group.similarity,
                "pages": [records[i]["page"] for i in group.pairs],
            }
            for group in similarity.groups(pairs)
        ],
    }
    write_atomic(out / "similarity.csv", export.similarity_csv(records))

    if review.roster is not None:
        _write_gradebook(out, results, review.roster)


def _write_gradebook(out: Path, results: dict[str, Any], roster: Roster) -> None:
    from grader.render.terminal import few_names

    table, unmatched = gradebook_table(results, roster)
    name = f"gradebook-{roster.platform}.csv"
    write_atomic(out / name, export.table_csv(table))
    write_atomic(
        out / "gradebook-unmatched.csv",
        export.table_csv([["folder", "problem"], *map(list, unmatched)]),
    )
    results["gradebook"] = {
        "platform": roster.platform,
        "file": name,
        "not_in_roster": [f for f, problem in unmatched if problem == "not in roster"],
        "no_submission": [f for f, problem in unmatched if problem == "no submission"],
        "checks_failed": [f for f, problem in unmatched if problem == "checks could not run"],
    }
    # Never dropped silently: say so on stderr, and list them all in a file.
    for key, words in (
        ("not_in_roster", f"graded but not in the roster {roster.path}"),
        ("no_submission", "on the roster but without a submission folder"),
        ("checks_failed", "left out: a check could not run on their code (fix it, run again)"),
    ):
        names = results["gradebook"][key]
        if names:
            click.echo(
                f"grade: gradebook: {len(names)} student(s) {words}: {few_names(names)} "
                f"(see {out / 'gradebook-unmatched.csv'})",
                err=True,
            )
