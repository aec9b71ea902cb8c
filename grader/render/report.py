"""Render the HTML reports: one page per student and the class overview.

Everything in the results (output, messages, tracebacks, names, even plot
data) comes from untrusted student code. The templates autoescape all of it;
only the SVG this module draws itself is marked safe. The pages load nothing
from anywhere: CSS, script and plots are inline, and a Content-Security-Policy
forbids every fetch, so a report opened years later or offline looks the same
and leaks nothing.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import statistics
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from grader.render import plots
from grader.render.locale import Locale

__all__ = [
    "render_student_report",
    "render_class_overview",
    "render_near_copy",
    "render_notebook_result",
    "hint_markup",
]

STATUSES = ("graded", "missing", "error", "timeout")


def render_student_report(
    student: dict[str, Any], *, seed: int, locale: Locale, templates: Path, title: str
) -> str:
    """Return the self-contained HTML report of one student's results (written in ``locale``)."""
    view = _student_view(student, locale)
    return _render(templates, "report.html.j2", locale, title=title, seed=seed, student=view)


def render_notebook_result(
    student: dict[str, Any], *, seed: int, locale: Locale, templates: Path
) -> str:
    """Return the compact HTML a notebook shows under ``check()``: a fragment, not a page."""
    view = _student_view(student, locale)
    return _render(templates, "notebook.html.j2", locale, seed=seed, student=view)


def render_class_overview(
    results: dict[str, Any],
    *,
    locale: Locale,
    templates: Path,
    title: str,
    report_href: Callable[[str], str],
) -> str:
    """Return the HTML class overview; ``report_href(name)`` is a plain relative path."""
    students = sorted(results.get("students") or [], key=lambda s: str(s.get("student", "")))
    views = [_student_view(s, locale, with_plots=False) for s in students]
    exercises = _exercise_columns(views)
    totals = [v["score"] for v in views]
    max_score = max((v["max_score"] for v in views), default=0.0)
    rows = [
        {
            **view,
            "href": _safe_href(report_href(view["name"])),
            "cells": [view["by_exercise"].get(e["exercise"]) for e in exercises],
            # Canvas's _LATE flag on the download, kept in the student's identity.
            "late": (student.get("identity") or {}).get("late") is True,
        }
        for view, student in zip(views, students, strict=True)
    ]
    return _render(
        templates,
        "overview.html.j2",
        locale,
        title=title,
        seed=results.get("seed"),
        trusted=results.get("trusted_submissions") is True,
        students=rows,
        unplaced=_unplaced_rows(results.get("intake"), report_href),
        exercises=exercises,
        checks=_check_rates(views),
        mean=statistics.fmean(totals) if totals else None,
        median=statistics.median(totals) if totals else None,
        max_score=max_score,
        histogram=Markup(plots.score_histogram(totals, max_score, locale=locale)),
        mistakes=_mistake_groups(results.get("mistakes"), exercises, report_href),
        near_copies=_near_copy_rows(results.get("similarity"), exercises, report_href, locale),
        copy_groups=_copy_group_rows(results.get("similarity"), exercises, report_href, locale),
        similarity_threshold=_percent(
            _number((results.get("similarity") or {}).get("threshold")), 1.0
        ),
    )


def _unplaced_rows(intake: Any, report_href: Callable[[str], str]) -> list[dict[str, Any]]:
    """List the files the batch could not place on an exercise: never graded, never hidden."""
    rows = (intake or {}).get("unplaced") if isinstance(intake, dict) else None
    if not isinstance(rows, list):
        return []
    return [
        {
            "student": str(row.get("student") or ""),
            "href": _safe_href(report_href(str(row["student"]))) if row.get("student") else "",
            "path": str(row.get("path") or ""),
            "why": str(row.get("why") or ""),
        }
        for row in rows
        if isinstance(row, dict)
    ]


# Students linked by name in a mistake's row; the rest fold into a <details>.
SHOWN_STUDENTS = 12


def _mistake_groups(
    mistakes: Any, exercises: list[dict[str, str]], report_href: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Group the results' common mistakes by exercise, most common first within each."""
    if not isinstance(mistakes, list):
        return []
    groups: dict[str, dict[str, Any]] = {e["exercise"]: {**e, "rows": []} for e in exercises}
    for row in mistakes:
        if not isinstance(row, dict) or str(row.get("exercise")) not in groups:
            continue
        links = [
            {"name": str(n), "href": _safe_href(report_href(str(n)))}
            for n in row.get("names") or []
        ]
        groups[str(row["exercise"])]["rows"].append(
            {
                "hint": str(row.get("hint", "")),
                "text": str(row.get("text", "")),
                "students": int(_number(row.get("students"))),
                "percent": _percent(_number(row.get("share")), 1.0),
                "shown": links[:SHOWN_STUDENTS],
                "more": links[SHOWN_STUDENTS:],
            }
        )
    return [g for g in groups.values() if g["rows"]]


def _near_copy_rows(
    similarity: Any,
    exercises: list[dict[str, str]],
    report_href: Callable[[str], str],
    locale: Locale,
) -> list[dict[str, Any]]:
    pairs = similarity.get("pairs") if isinstance(similarity, dict) else None
    titles = {e["exercise"]: e for e in exercises}
    rows = []
    for pair in pairs if isinstance(pairs, list) else []:
        exercise = str(pair.get("exercise", ""))
        column = titles.get(exercise)
        rows.append(
            {
                "exercise": exercise,
                "label": column["arg"] if column else locale.text("ui.similarity.whole"),
                "title": column["title"] if column else locale.text("ui.similarity.whole_note"),
                "pair": [
                    {
                        "name": str(pair.get(k, "")),
                        "href": _safe_href(report_href(str(pair.get(k, "")))),
                    }
                    for k in ("student_a", "student_b")
                ],
                "percent": _percent(_number(pair.get("similarity")), 1.0),
                "page": _safe_href(str(pair.get("page", ""))),
            }
        )
    return rows


def _copy_group_rows(
    similarity: Any,
    exercises: list[dict[str, str]],
    report_href: Callable[[str], str],
    locale: Locale,
) -> list[dict[str, Any]]:
    """Show each group of three or more alike students as one row, with its pairs' pages."""
    found = similarity.get("groups") if isinstance(similarity, dict) else None
    titles = {e["exercise"]: e for e in exercises}
    rows = []
    for group in found if isinstance(found, list) else []:
        if not isinstance(group, dict):
            continue
        exercise = str(group.get("exercise", ""))
        column = titles.get(exercise)
        rows.append(
            {
                "label": column["arg"] if column else locale.text("ui.similarity.whole"),
                "title": column["title"] if column else locale.text("ui.similarity.whole_note"),
                "students": [
                    {"name": str(name), "href": _safe_href(report_href(str(name)))}
                    for name in group.get("students") or []
                ],
                "percent": _percent(_number(group.get("similarity")), 1.0),
                "pages": [_safe_href(str(page)) for page in group.get("pages") or []],
            }
        )
    return rows


def render_near_copy(
    pair: dict[str, Any],
    spans: dict[str, tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    texts: dict[str, tuple[str, str]],
    *,
    locale: Locale,
    templates: Path,
    title: str,
    report_href: Callable[[str], str],
) -> str:
    """Return the side-by-side page of two submissions, their shared passages marked."""
    blocks = [
        {
            "exercise": exercise,
            "sides": [
                _marked_lines(texts[exercise][side], spans[exercise][side]) for side in (0, 1)
            ],
        }
        for exercise in sorted(spans)
    ]
    students = [
        {"name": str(pair[k]), "href": _safe_href(report_href(str(pair[k])))}
        for k in ("student_a", "student_b")
    ]
    return _render(
        templates,
        "near_copy.html.j2",
        locale,
        title=title,
        exercise=str(pair["exercise"]),
        whole=pair["exercise"] == "all",
        percent=_percent(_number(pair.get("similarity")), 1.0),
        students=students,
        blocks=blocks,
    )


def _marked_lines(text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    shared = {n for first, last in spans for n in range(first, last + 1)}
    return [
        {"number": n, "text": line, "shared": n in shared}
        for n, line in enumerate(text.splitlines(), start=1)
    ]


def _render(templates: Path, name: str, locale: Locale, **context: Any) -> str:
    def t(key: str, **params: Any) -> str:
        return locale.text("ui." + key, **params)

    if "title" in context:
        context["title"] = _course_title(locale, str(context["title"]))

    return _environment(templates).get_template(name).render(t=t, **context)


def _course_title(locale: Locale, title: str) -> str:
    """Return the course's title in ``locale``'s language, where its catalog has one.

    ``course.toml`` of a language holds the title and the English one it
    translates: a course that changed its title keeps it until translated anew.
    """
    if locale.text("course.english") == title:
        return locale.text("course.title")
    return title


def _exercise_title(locale: Locale, exercise: str, title: str) -> str:
    """Return an exercise's title (its README's heading) in ``locale``'s language, if given."""
    key = f"{exercise}.title"
    found = locale.text(key)
    return title if found == key else found


@cache
def _environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        # Not select_autoescape: the templates end in .j2, which it would skip.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["points"] = _points
    env.filters["csp_hash"] = _csp_hash
    env.filters["hint"] = hint_markup
    return env


# A Markdown code span, as the hint catalogs write them: `x.grad`, `torch.no_grad()`.
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def hint_markup(text: Any) -> Markup:
    """Return a hint as HTML: escaped whole, then its `code` spans shown as code.

    Escaping comes first and the spans are found in the escaped text, so what a
    submission put into a hint (an error message, a returned value) stays text
    even inside backticks.
    """
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(str(text)))))


def _student_view(
    student: dict[str, Any], locale: Locale, *, with_plots: bool = True
) -> dict[str, Any]:
    exercises = [_exercise_view(e, locale, with_plots) for e in student.get("exercises") or []]
    score = _number(student.get("score"))
    max_score = _number(student.get("max_score"))
    return {
        "name": str(student.get("student", "")),
        "score": score,
        "max_score": max_score,
        "percent": _percent(score, max_score),
        "exercises": exercises,
        "by_exercise": {e["exercise"]: e for e in exercises},
    }


def _exercise_view(exercise: dict[str, Any], locale: Locale, with_plots: bool) -> dict[str, Any]:
    name = str(exercise.get("exercise", ""))
    status = str(exercise.get("status", ""))
    known = status in STATUSES
    error = exercise.get("error") or None
    score = _number(exercise.get("score"))
    max_score = _number(exercise.get("max_score"))
    return {
        "exercise": name,
        "arg": _exercise_arg(name),
        "title": _exercise_title(locale, name, str(exercise.get("title") or name)),
        # The status also names a CSS class, so only known words get there.
        "status": status if known else "unknown",
        "status_text": locale.text(f"ui.status.{status}") if known else status,
        # Written once, in the report's language, by results.written: read, not made again.
        "message": "" if status == "graded" else str(exercise.get("message") or ""),
        "score": score,
        "max_score": max_score,
        "percent": _percent(score, max_score),
        "full_marks": max_score > 0 and score >= max_score,
        "checks": [_check_view(c, name, locale) for c in exercise.get("checks") or []],
        "output": str(exercise.get("output") or ""),
        "output_dropped": int(_number(exercise.get("output_dropped"))),
        "error": {k: str(error.get(k) or "") for k in ("kind", "summary", "traceback")}
        if isinstance(error, dict)
        else None,
        "plots": [_plot_view(p, name, locale) for p in exercise.get("plots") or []]
        if with_plots
        else [],
    }


def _check_view(check: dict[str, Any], exercise: str, locale: Locale) -> dict[str, Any]:
    passed = check.get("passed") is True
    return {
        "name": str(check.get("name", "")),
        "title": locale.title(
            exercise, str(check.get("name", "")), str(check.get("title") or check.get("name", ""))
        ),
        "passed": passed,
        "score": _number(check.get("score")),
        "max_score": _number(check.get("max_score")),
        "hint": "" if passed else str(check.get("message") or ""),
        # An instructor's word on this check (grade serve), on passed checks too.
        "comment": str(check.get("comment") or ""),
    }


def _plot_view(plot: Any, exercise: str, locale: Locale) -> dict[str, Any]:
    kind = str(plot.get("kind", "")) if isinstance(plot, dict) else ""
    if kind not in plots.KINDS:
        return {
            "kind": kind,
            "svg": None,
            "problem": locale.text("ui.report.plot_unknown", kind=kind),
        }
    try:
        svg = plots.figure(plot, exercise=exercise, locale=locale)
    # The data is whatever the student's function returned; a plot that
    # cannot be drawn must not cost the student their whole report.
    except (TypeError, ValueError, KeyError, OverflowError):
        return {"kind": kind, "svg": None, "problem": locale.text("ui.report.plot_failed")}
    return {"kind": kind, "svg": Markup(svg), "problem": ""}


def _exercise_columns(views: list[dict[str, Any]]) -> list[dict[str, str]]:
    columns: dict[str, dict[str, str]] = {}
    for view in views:
        for e in view["exercises"]:
            columns.setdefault(
                e["exercise"], {"exercise": e["exercise"], "title": e["title"], "arg": e["arg"]}
            )
    return sorted(columns.values(), key=lambda c: c["exercise"])


def _check_rates(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Only submissions whose checks ran count: a missing exercise says
    # nothing about which concept is hard.
    rates: dict[tuple[str, str], dict[str, Any]] = {}
    for view in views:
        for e in view["exercises"]:
            for c in e["checks"]:
                row = rates.setdefault(
                    (e["exercise"], c["name"]),
                    {
                        "exercise": e["exercise"],
                        "name": c["name"],
                        "title": c["title"],
                        "passed": 0,
                        "ran": 0,
                    },
                )
                row["ran"] += 1
                row["passed"] += c["passed"]
    for row in rates.values():
        row["percent"] = round(100 * row["passed"] / row["ran"])
    return sorted(rates.values(), key=lambda r: (r["passed"] / r["ran"], r["exercise"], r["name"]))


def _exercise_arg(name: str) -> str:
    # `grade 03` names exercise 03_...; the number is what a student types.
    match = re.match(r"(\d+)_", name)
    return match.group(1) if match else name


def _safe_href(href: str) -> str:
    # A student folder named `javascript:alert(1)` must stay a relative path:
    # quoting the colon stops a browser from reading it as a scheme.
    return quote(href, safe="/")


def _number(value: Any) -> float:
    # A malformed or non-finite score shows as 0 rather than breaking the page.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) else 0.0


def _percent(score: float, max_score: float) -> int:
    return round(100 * score / max_score) if max_score > 0 else 0


def _points(value: Any) -> str:
    """Format a score without a trailing .0 (7 points, 7.5 points)."""
    if value is None:
        return "–"
    return f"{round(float(value), 2):g}"


def _csp_hash(script: str) -> Markup:
    """Return the CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(str(script).encode()).digest()
    return Markup("'sha256-" + base64.b64encode(digest).decode() + "'")
