"""Write what a student reads: the terminal summary, the report and the requested exports.

The results are put in the student's language here, once (``results.written``),
and every output below reads that one written document.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from grader.course.find import Course
from grader.render import export, github
from grader.render.atomic import write_atomic
from grader.render.locale import Locale
from grader.render.terminal import clean_for_terminal, terminal_summary
from grader.score.points import to_json
from grader.score.results import written

__all__ = ["publish", "OutputError", "check_outputs"]


class OutputError(Exception):
    """A file asked for on the command line cannot be written there: the user's to fix."""


def check_outputs(paths: dict[str, str | None]) -> None:
    """Refuse, before any grading, an output path whose folder is missing or unwritable.

    ``paths`` maps an option (``--json``) to its value. A results file that CI
    reads must not be found missing after a grade that took a minute.
    """
    for option, value in paths.items():
        if not value:
            continue
        path = Path(value)
        folder = path.parent
        if path.is_dir():
            raise OutputError(f"{option} {value}: that is a folder; give a file name")
        if not folder.is_dir():
            raise OutputError(
                f"{option} {value}: the folder {folder} does not exist (mkdir -p {folder})"
            )
        if not os.access(folder, os.W_OK):
            raise OutputError(f"{option} {value}: the folder {folder} is not writable for you")


def publish(
    course: Course,
    results: dict[str, Any],
    locale: Locale,
    *,
    json_path: str | None,
    html_path: str | None,
    junit_path: str | None,
    gradescope_path: str | None,
    github_summary: bool,
    single: bool,
) -> str | None:
    """Print the summary and write every requested file, every text in ``locale``'s language.

    Return the line to show when the HTML report could not be written (a
    read-only copy of the course): the score stands, the student is told where
    a report can go. A requested export that cannot be written raises OSError.
    """
    from grader.render.report import render_student_report

    results = written(results, locale)
    summary = terminal_summary(results, locale, single=single)
    if github.in_actions():
        # Student text in a CI log must not become workflow commands.
        summary = export.fence_github_log(summary)
    click.echo(summary)
    record = results["students"][0]
    if html_path is None:
        name = record["exercises"][0]["exercise"] if single else "all"
        html = course.root / "reports" / f"{name}.html"
    else:
        html = Path(html_path)
    page = render_student_report(
        record, seed=results["seed"], locale=locale, templates=course.templates, title=course.title
    )
    problem = None
    try:
        write_atomic(html, page)
    except OSError as exc:
        problem = (
            f"the report could not be written to {html} ({exc.strerror or exc}); the score "
            "above stands: point --html to a file in a folder you can write "
            f"(--html {Path.home() / html.name})"
        )
    else:
        click.echo(clean_for_terminal(locale.text("ui.terminal.report_written", path=html)))
    if json_path:
        write_atomic(Path(json_path), to_json(results))
    if junit_path:
        write_atomic(Path(junit_path), export.junit_xml(results))
    if gradescope_path:
        write_atomic(Path(gradescope_path), json.dumps(export.gradescope_json(results), indent=2))
    target = github.step_summary() if github_summary else None
    if target is not None:
        with target.open("a", encoding="utf-8") as f:
            f.write(export.markdown_summary(results) + "\n")
    return problem
