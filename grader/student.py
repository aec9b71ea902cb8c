"""Grade one student's work (``grade 03`` or ``grade``) and publish what a student reads."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from grader.atomic import write_atomic
from grader.course import Course, Exercise
from grader.executor import Executor, SandboxExecutor
from grader.grade import Settings, grade_each, grade_exercise, sandbox_ready, secrets_of
from grader.judge import JudgeError
from grader.locale import Locale
from grader.sandbox import shortfall
from grader.score import results_document, student_result, to_json

__all__ = ["Settings", "grade_student", "publish", "terminal_summary", "clean_for_terminal"]


def _student_name() -> str:
    """Name the one student of `grade` after the user running it (for the report's title)."""
    import getpass

    try:
        return getpass.getuser() or "student"
    except Exception:  # no user database entry (containers): getuser raises varied errors
        return "student"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def clean_for_terminal(text: str) -> str:
    """Neutralise control characters so student text cannot drive the terminal (ANSI escapes)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def executor_for(course: Course, count: int) -> Executor:
    """Pick the executor: warm forked children for several exercises, else a fresh child."""
    if count > 1:
        from grader.zygote import ZygoteExecutor

        if ZygoteExecutor.available():
            return ZygoteExecutor(hide=secrets_of(course))
    return SandboxExecutor(hide=secrets_of(course))


def grade_student(
    course: Course,
    work: list[tuple[Exercise, Path | None]],
    settings: Settings,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Grade each (exercise, file) pair and return the results document."""
    locale = Locale(course.templates, settings.lang)
    executor = executor or executor_for(course, len(work))
    if len(work) > 1:
        from grader import plots

        plots.warm_up()  # the report's plots, drawn at the end, start loading now
    try:
        if settings.require_sandbox:
            # Gradescope and the like: the student's code must not run half-confined.
            problem = shortfall(sandbox_ready(executor, settings.limits))
            if problem:
                raise JudgeError(f"refusing to run the submission: here {problem}")
        # Several exercises at once, each in its own warm child: the cores are there.
        exercises = grade_each(
            work,
            lambda item: grade_exercise(
                course,
                item[0],
                item[1],
                executor,
                settings,
                locale,
                shown_as=_shown(course, item[1]),
            ),
            # (in-process, for tests, they would share one module namespace: one at a time)
            at_once=(os.cpu_count() or 1) if isinstance(executor, SandboxExecutor) else 1,
        )
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    return results_document(
        [student_result(_student_name(), exercises)], seed=settings.seed, lang=settings.lang
    )


def _shown(course: Course, path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(course.root))
    except ValueError:
        return str(path)


def terminal_summary(results: dict[str, Any], locale: Locale, single: bool) -> str:
    """Render the results for a terminal: every check with points and hint, or a score table."""
    record = results["students"][0]
    lines: list[str] = []
    width = max((len(ex["exercise"]) for ex in record["exercises"]), default=10)
    for ex in record["exercises"]:
        head = f"{ex['exercise']:<{width}}  {ex['score']:>4g}/{ex['max_score']:<4g}"
        if ex["status"] != "graded":
            head += f"  [{ex['status']}] {ex['message']}"
        elif not single:
            failed = sum(not c["passed"] for c in ex["checks"])
            head += f"  {failed} check(s) failed" if failed else "  all checks pass"
        lines.append(head)
        if not single:
            continue
        for check in ex["checks"]:
            mark = "PASS" if check["passed"] else "FAIL"  # fixed width, and grep-able in CI logs
            lines.append(f"  {mark}  {check['score']:g}/{check['max_score']:g}  {check['title']}")
            if not check["passed"] and check["message"] and check["message"] != ex["message"]:
                lines.append(f"        {check['message']}")
        if ex.get("output_dropped"):
            lines.append(f"  (output truncated: {ex['output_dropped']} bytes dropped)")
    partial = {shortfall(ex["sandbox"]) for ex in record["exercises"] if ex.get("sandbox")}
    partial.discard("")
    if partial and sys.platform == "linux":
        # Grading your own work still works; grading others' here would not be safe.
        lines.append(f"note: isolation is partial on this machine: {sorted(partial)[0]}")
    lines.append(f"{'total':<{width}}  {record['score']:>4g}/{record['max_score']:g}")
    seed = results["seed"]
    exercises = record["exercises"]
    target = exercises[0]["exercise"].split("_", 1)[0] if single and exercises else ""
    lines.append(locale.text("ui.terminal.seed", seed=seed, exercise=target).replace("  ", " "))
    return clean_for_terminal("\n".join(lines))


def publish(
    course: Course,
    results: dict[str, Any],
    settings: Settings,
    *,
    json_path: str | None,
    html_path: str | None,
    junit_path: str | None,
    gradescope_path: str | None,
    github_summary: bool,
    single: bool,
) -> None:
    """Print the summary and write every requested file."""
    from grader import export
    from grader.report import render_student_report

    locale = Locale(course.templates, settings.lang)
    summary = terminal_summary(results, locale, single=single)
    if os.environ.get("GITHUB_ACTIONS") == "true":
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
        record,
        seed=results["seed"],
        lang=settings.lang,
        templates=course.templates,
        title=course.title,
    )
    write_atomic(html, page)
    click.echo(clean_for_terminal(locale.text("ui.terminal.report_written", path=html)))
    if json_path:
        write_atomic(Path(json_path), to_json(results))
    if junit_path:
        write_atomic(Path(junit_path), export.junit_xml(results))
    if gradescope_path:
        write_atomic(Path(gradescope_path), json.dumps(export.gradescope_json(results), indent=2))
    if github_summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(export.markdown_summary(results) + "\n")
