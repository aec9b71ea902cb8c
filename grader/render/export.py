"""Turn a results dict (see docs/course-layout.md) into the formats other tools import.

Every function here is pure: it takes the dict ``grade --json`` writes and
returns text or a dict; the CLI decides where it goes. Student names, hints,
messages and printed output are student-controlled (a hint's parameters can
carry what a submission returned), so each format escapes them its own way.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import xml.etree.ElementTree as ET
from typing import Any

__all__ = [
    "grades_csv",
    "scores_csv",
    "junit_xml",
    "gradescope_json",
    "markdown_summary",
    "fence_github_log",
    "table_csv",
    "mistakes_csv",
    "similarity_csv",
]

# How an exercise that was not graded shows in JUnit: nothing handed in is a
# failed test; a submission that would not load or ran out of time is an error.
_JUNIT_KIND = {"missing": "failure", "error": "error", "timeout": "error"}

# OWASP CSV injection: a spreadsheet runs a cell starting with one of these as a
# formula (=HYPERLINK(...) exfiltrates, =cmd|... used to run programs).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

# Characters XML 1.0 forbids even as character references: a parser rejects the
# whole report if a student prints one (e.g. "\x1b[31m" colours, "\x00").
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# CommonMark lets a backslash escape any ASCII punctuation; escaping all of it
# stops a student's text from opening links, images, emphasis or table cells.
_MD_PUNCT = re.compile(r"([!\"#$%'()*+,\-./:;=?@\[\\\]^_`{|}~])")
# Control characters other than tab and newline: never meaningful in a report,
# and a NUL in JSON is refused by some databases (a Gradescope upload could fail).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _number(value: Any) -> str:
    """Write a score as a plain number: 7 rather than 7.0, 6.5 as is."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


# C0 and C1 control characters (tab and line ends aside: quoted, and defused above): in
# a cell, an escape or OSC sequence (a folder named "\x1b]8;;https://...\x07bob")
# reaches whoever runs `cat grades.csv`.
_CELL_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _safe_cell(text: str) -> str:
    """Defuse a text cell: no control characters, nothing a spreadsheet evaluates."""
    text = _CELL_CONTROL.sub("", text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def grades_csv(results: dict[str, Any]) -> str:
    """Render the class's scores as CSV: a row per student, a column per exercise."""
    students = results.get("students", [])
    names = sorted({ex["exercise"] for s in students for ex in s.get("exercises", [])})
    out = io.StringIO()
    # RFC 4180 "\r\n" rows: the writer then quotes a name holding either "\r" or "\n"
    # (with "\n" rows a bare "\r" went out unquoted and split the row).
    writer = csv.writer(out)
    # Course-controlled, but guarded too: an exercise name is text all the same.
    writer.writerow(["student", *(_safe_cell(n) for n in names), "total", "max_total"])
    for student in students:
        scores = {ex["exercise"]: ex.get("score", 0.0) for ex in student.get("exercises", [])}
        row = [_safe_cell(str(student["student"]))]
        # An empty cell, not 0: the exercise was not part of this student's run.
        row += [_number(scores[n]) if n in scores else "" for n in names]
        row += [_number(student.get("score", 0.0)), _number(student.get("max_score", 0.0))]
        writer.writerow(row)
    return out.getvalue()


SCORE_COLUMNS = (
    "student",
    "exercise",
    "raw_score",
    "penalty",
    "override",
    "final_score",
    "comment",
)


def scores_csv(rows: list[dict[str, Any]]) -> str:
    """Render how each final score came about: a row per student and exercise.

    ``raw_score`` is the counted attempt's score (empty: nothing graded),
    ``penalty`` the points lateness took, ``override`` an instructor's score
    (empty: none), ``final_score`` what counts.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SCORE_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _safe_cell(str(row["student"])),
                row["exercise"],
                "" if row["raw_score"] is None else _number(row["raw_score"]),
                _number(row["penalty"]),
                "" if row["override"] is None else _number(row["override"]),
                _number(row["final_score"]),
                _safe_cell(str(row["comment"])),
            ]
        )
    return out.getvalue()


def table_csv(rows: list[list[Any]]) -> str:
    """Render rows (header first) as CSV: numbers plain, text cells defused."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(
            [
                _number(cell)
                if isinstance(cell, (int, float)) and not isinstance(cell, bool)
                else _safe_cell(str(cell))
                for cell in row
            ]
        )
    return out.getvalue()


def mistakes_csv(mistakes: list[dict[str, Any]]) -> str:
    """Render the class's common mistakes: a row per exercise and hint, most common first."""
    from grader.review.mistakes import EXAMPLES

    rows: list[list[Any]] = [["exercise", "hint", "students", "share", "example_students"]]
    rows += [
        [m["exercise"], m["hint"], m["students"], m["share"], "; ".join(m["names"][:EXAMPLES])]
        for m in mistakes
    ]
    return table_csv(rows)


def similarity_csv(pairs: list[dict[str, Any]]) -> str:
    """Render the near-copies to review: a row per pair (``exercise`` is ``all`` for whole work)."""
    rows: list[list[Any]] = [["exercise", "student_a", "student_b", "similarity"]]
    rows += [[p["exercise"], p["student_a"], p["student_b"], p["similarity"]] for p in pairs]
    return table_csv(rows)


def _xml_text(text: Any) -> str:
    return _XML_ILLEGAL.sub("", str(text or ""))


def _add_points(testcase: ET.Element, score: Any, max_score: Any) -> None:
    properties = ET.SubElement(testcase, "properties")
    ET.SubElement(properties, "property", name="score", value=_number(score))
    ET.SubElement(properties, "property", name="max_score", value=_number(max_score))


def _junit_exercise(student: str, exercise: dict[str, Any]) -> ET.Element:
    """Build one ``<testsuite>`` for one student's exercise."""
    name = exercise["exercise"]
    suite = ET.Element("testsuite", name=_xml_text(f"{student}/{name}"))
    failures = errors = 0
    status = exercise.get("status", "graded")
    if status == "graded":
        for check in exercise.get("checks", []):
            case = ET.SubElement(
                suite, "testcase", classname=_xml_text(name), name=_xml_text(check["name"])
            )
            _add_points(case, check.get("score", 0.0), check.get("max_score", 0.0))
            if not check.get("passed"):
                failures += 1
                hint = _xml_text(check.get("message"))
                failure = ET.SubElement(case, "failure", message=hint, type="check")
                failure.text = hint
    else:
        kind = _JUNIT_KIND.get(status, "error")
        case = ET.SubElement(suite, "testcase", classname=_xml_text(name), name="submission")
        _add_points(case, 0.0, exercise.get("max_score", 0.0))
        message = _xml_text(exercise.get("message") or status)
        problem = ET.SubElement(case, kind, message=message, type=_xml_text(status))
        problem.text = _xml_text((exercise.get("error") or {}).get("traceback") or message)
        failures += kind == "failure"
        errors += kind == "error"
    if exercise.get("output"):
        ET.SubElement(suite, "system-out").text = _xml_text(exercise["output"])
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{float(exercise.get('duration') or 0.0):.3f}")
    return suite


def junit_xml(results: dict[str, Any]) -> str:
    """Render results as JUnit XML: a testsuite per student and exercise, a testcase per check."""
    root = ET.Element("testsuites", name=_xml_text(results.get("grader", "grade")))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for student in results.get("students", []):
        for exercise in student.get("exercises", []):
            suite = _junit_exercise(str(student["student"]), exercise)
            root.append(suite)
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
            seconds += float(suite.get("time", "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _plain(text: Any) -> str:
    return _CONTROL.sub("", str(text or ""))


def _gradescope_tests(exercise: dict[str, Any]) -> list[dict[str, Any]]:
    name = exercise["exercise"]
    if exercise.get("status", "graded") != "graded":
        # One zero-score test, so the student sees why the exercise got nothing.
        return [
            {
                "name": _plain(f"{name}: {exercise.get('status')}"),
                "score": 0.0,
                "max_score": float(exercise.get("max_score", 0.0)),
                "output": _plain(exercise.get("message")),
                "visibility": "visible",
                "status": "failed",
            }
        ]
    return [
        {
            "name": _plain(f"{name}: {check.get('title') or check['name']}"),
            "score": float(check.get("score", 0.0)),
            "max_score": float(check.get("max_score", 0.0)),
            "output": _plain(check.get("message")),
            "visibility": "visible",
            "status": "passed" if check.get("passed") else "failed",
        }
        for check in exercise.get("checks", [])
    ]


def gradescope_json(results: dict[str, Any]) -> dict[str, Any]:
    """Render the first student's results in Gradescope's results.json format."""
    students = results.get("students", [])
    if not students:
        raise ValueError("results hold no student: nothing to report to Gradescope")
    student = students[0]
    exercises = student.get("exercises", [])
    score, max_score = float(student.get("score", 0.0)), float(student.get("max_score", 0.0))
    return {
        "score": score,
        "execution_time": round(sum(float(ex.get("duration") or 0.0) for ex in exercises)),
        "output": f"{_number(score)} / {_number(max_score)} points (seed {results.get('seed')})",
        "visibility": "visible",
        # run_autograder's stdout holds tracebacks of the grader itself: staff only.
        "stdout_visibility": "hidden",
        "tests": [test for ex in exercises for test in _gradescope_tests(ex)],
    }


def _md(text: Any) -> str:
    """Escape text for a Markdown table cell so it renders as the literal text."""
    text = str(text or "").replace("\r\n", "\n")
    text = _MD_PUNCT.sub(r"\\\1", _CONTROL.sub("", text))
    # Entities, not backslashes, for raw HTML: GitHub passes some tags through.
    # Added after the backslashes so their own "&" and ";" stay intact.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A newline would end the table row; <br> is ours, added after escaping.
    return text.replace("\n", "<br>")


def _md_failed_checks(exercise: dict[str, Any]) -> str:
    if exercise.get("status", "graded") != "graded":
        return _md(exercise.get("message"))
    failed = [c for c in exercise.get("checks", []) if not c.get("passed")]
    return "<br>".join(
        f"**{_md(c.get('title') or c['name'])}**: {_md(c.get('message'))}" for c in failed
    )


def markdown_summary(results: dict[str, Any]) -> str:
    """Render a Markdown score table per student, for ``$GITHUB_STEP_SUMMARY``."""
    lines: list[str] = []
    for student in results.get("students", []):
        score = f"{_number(student.get('score', 0))}/{_number(student.get('max_score', 0))}"
        lines += [
            f"### {_md(student['student'])}: {score} points",
            "",
            "| exercise | status | score | failed checks |",
            "| --- | --- | --- | --- |",
        ]
        for ex in student.get("exercises", []):
            points = f"{_number(ex.get('score', 0))}/{_number(ex.get('max_score', 0))}"
            cells = [_md(ex["exercise"]), _md(ex.get("status")), points, _md_failed_checks(ex)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def fence_github_log(text: str) -> str:
    """Wrap text so GitHub Actions prints it without running any ``::command::`` in it."""
    # A fresh unguessable token per call: a student who could predict it could
    # print "::TOKEN::" to end the fence early and then "::add-mask::" or
    # "::error::" lines of their own.
    token = secrets.token_hex(16)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"::stop-commands::{token}\n{body}::{token}::\n"
