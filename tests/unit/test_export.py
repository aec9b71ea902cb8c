"""Check each export format against its consumer's parser, with hostile student text."""

from __future__ import annotations

import copy
import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from grader.render.export import (
    fence_github_log,
    grades_csv,
    gradescope_json,
    junit_xml,
    markdown_summary,
)

HOSTILE_HINT = 'x.grad was <b>3</b> & "doubled" | `rm` \x1b[31m\x00\nsecond line'


def _check(name: str, passed: bool, score: float, max_score: float, message: str = "") -> dict:
    return {
        "name": name,
        "title": name.replace("_", " "),
        "passed": passed,
        "score": score,
        "max_score": max_score,
        "message": "" if passed else message,
        "hint": None,
    }


def _exercise(name: str, status: str = "graded", **fields: Any) -> dict:
    exercise = {
        "exercise": name,
        "title": name,
        "status": status,
        "score": 0.0,
        "max_score": 10.0,
        "message": "",
        "source": f"{name}/exercise.py",
        "digest": "0" * 64,
        "duration": 1.5,
        "output": "",
        "output_dropped": 0,
        "error": None,
        "checks": [],
        "plots": [],
    }
    exercise.update(fields)
    return exercise


@pytest.fixture
def results() -> dict:
    alice = {
        "student": "alice",
        "score": 16.5,
        "max_score": 30.0,
        "exercises": [
            _exercise(
                "01_first_grad",
                score=6.5,
                checks=[
                    _check("test_value", True, 4.0, 4.0),
                    _check("test_grad", False, 0.0, 4.0, HOSTILE_HINT),
                    _check("test_half", True, 2.5, 2.5),
                ],
                output="::add-mask::secret\nhello <world>\x07",
            ),
            _exercise("02_no_grad", score=10.0, checks=[_check("test_ok", True, 10.0, 10.0)]),
            _exercise("03_loop", status="timeout", message="ran past the 10 s limit"),
        ],
    }
    mallory = {
        "student": '=HYPERLINK("http://evil","x")',
        "score": 0.0,
        "max_score": 20.0,
        "exercises": [
            _exercise("01_first_grad", status="missing", message="nothing handed in"),
            _exercise(
                "04_crash",
                status="error",
                message="SyntaxError at line 3",
                error={"kind": "SyntaxError", "summary": "bad", "traceback": "line 3\n  x = ("},
            ),
        ],
    }
    return {
        "format": 1,
        "grader": "autograd-grader 0.1.0",
        "seed": 12345,
        "lang": "en",
        "students": [alice, mallory],
    }


# --- CSV -------------------------------------------------------------------


def test_csv_round_trips_through_the_csv_module(results: dict) -> None:
    rows = list(csv.DictReader(io.StringIO(grades_csv(results))))
    assert list(rows[0]) == [
        "student",
        "01_first_grad",
        "02_no_grad",
        "03_loop",
        "04_crash",
        "total",
        "max_total",
    ]
    alice = rows[0]
    assert alice["student"] == "alice"
    assert alice["01_first_grad"] == "6.5"
    assert alice["02_no_grad"] == "10"
    assert alice["03_loop"] == "0"
    assert alice["04_crash"] == ""  # not part of alice's run: no grade, not zero
    assert (alice["total"], alice["max_total"]) == ("16.5", "30")


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_defuses_formula_names(results: dict, prefix: str) -> None:
    results["students"][1]["student"] = prefix + "cmd|' /C calc'!A0"
    rows = list(csv.reader(io.StringIO(grades_csv(results))))
    assert rows[2][0] == "'" + prefix + "cmd|' /C calc'!A0"


def test_csv_keeps_ordinary_names_and_numbers_plain(results: dict) -> None:
    results["students"][0]["student"] = 'o\'brien, "jr"\nsecond'
    rows = list(csv.reader(io.StringIO(grades_csv(results))))
    assert rows[1][0] == 'o\'brien, "jr"\nsecond'
    # Negative numbers never get the apostrophe: only text cells do.
    results["students"][0]["score"] = -1.0
    rows = list(csv.reader(io.StringIO(grades_csv(results))))
    assert rows[1][-2] == "-1"


def test_csv_of_no_students_is_just_the_header() -> None:
    assert grades_csv({"students": []}) == "student,total,max_total\r\n"


# --- JUnit XML -------------------------------------------------------------


def _parse(text: str) -> ET.Element:
    # fromstring raises on any malformed or illegal character: the strict check.
    return ET.fromstring(text.encode("utf-8"))


def _find(node: ET.Element, path: str) -> ET.Element:
    found = node.find(path)
    assert found is not None, f"no {path} in the report"
    return found


def _attr(node: ET.Element, name: str) -> str:
    value = node.get(name)
    assert value is not None, f"{node.tag} has no {name}"
    return value


def test_junit_counts_add_up(results: dict) -> None:
    root = _parse(junit_xml(results))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "alice/01_first_grad",
        "alice/02_no_grad",
        "alice/03_loop",
        '=HYPERLINK("http://evil","x")/01_first_grad',
        '=HYPERLINK("http://evil","x")/04_crash',
    ]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(_attr(suite, "tests")) == len(cases)
        assert int(_attr(suite, "failures")) == len(suite.findall("testcase/failure"))
        assert int(_attr(suite, "errors")) == len(suite.findall("testcase/error"))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "2", "2")
    assert [_attr(s, "failures") + _attr(s, "errors") for s in suites] == [
        "10",
        "00",
        "01",
        "10",
        "01",
    ]


def test_junit_testcase_carries_points_and_hint(results: dict) -> None:
    root = _parse(junit_xml(results))
    case = _find(root, "testsuite/testcase[@name='test_grad']")
    assert case.get("classname") == "01_first_grad"
    points = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
    assert points == {"score": "0", "max_score": "4"}
    failure = _find(case, "failure")
    # Escaped, not dropped: the markup survives as text; only XML-illegal chars go.
    expected = HOSTILE_HINT.replace("\x00", "")
    assert failure.get("message") == expected.replace("\x1b", "")
    assert failure.text == expected.replace("\x1b", "")
    passed = _find(root, "testsuite/testcase[@name='test_value']")
    assert passed.find("failure") is None and passed.find("error") is None


def test_junit_exercise_failures_become_one_testcase(results: dict) -> None:
    root = _parse(junit_xml(results))
    timeout = _find(root, "testsuite[@name='alice/03_loop']/testcase")
    assert _find(timeout, "error").get("message") == "ran past the 10 s limit"
    assert _find(timeout, "error").get("type") == "timeout"
    missing = _find(root.findall("testsuite")[3], "testcase/failure")
    assert missing.get("type") == "missing"
    crash = _find(root.findall("testsuite")[4], "testcase/error")
    assert crash.text == "line 3\n  x = ("
    out = _find(root, "testsuite[@name='alice/01_first_grad']/system-out")
    assert out.text == "::add-mask::secret\nhello <world>"


def test_junit_survives_every_control_character(results: dict) -> None:
    nasty = "".join(chr(c) for c in range(0x20)) + "\ud800\ufffe]]><!--"
    results["students"][0]["exercises"][0]["checks"][1]["message"] = nasty
    results["students"][0]["exercises"][0]["output"] = nasty
    results["students"][0]["student"] = nasty
    root = _parse(junit_xml(results))
    assert _find(root, "testsuite/testcase/failure").get("message") == "\t\n\r]]><!--"


def test_junit_validates_against_the_schema(results: dict) -> None:
    etree = pytest.importorskip("lxml.etree")
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))
    document = etree.fromstring(junit_xml(results).encode("utf-8"))
    schema.assertValid(document)
    # The schema has teeth: a suite without its counts is rejected.
    bad = etree.fromstring(b'<testsuites><testsuite name="a"/></testsuites>')
    assert not schema.validate(bad)


# --- Gradescope ------------------------------------------------------------

_TOP_FIELDS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
_TEST_FIELDS = {"name", "score", "max_score", "output", "visibility", "status"}


def test_gradescope_fields_follow_the_spec(results: dict) -> None:
    report = gradescope_json(results)
    assert set(report) <= _TOP_FIELDS
    assert isinstance(report["score"], float) and report["score"] == 16.5
    assert isinstance(report["execution_time"], int)
    assert report["visibility"] == "visible"
    assert isinstance(report["output"], str)
    for test in report["tests"]:
        assert set(test) == _TEST_FIELDS
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert isinstance(test["output"], str)
        assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
        assert test["status"] in {"passed", "failed"}


def test_gradescope_reports_the_first_student_only(results: dict) -> None:
    report = gradescope_json(results)
    names = [t["name"] for t in report["tests"]]
    assert names == [
        "01_first_grad: test value",
        "01_first_grad: test grad",
        "01_first_grad: test half",
        "02_no_grad: test ok",
        "03_loop: timeout",
    ]
    grad = report["tests"][1]
    assert (grad["status"], grad["score"], grad["max_score"]) == ("failed", 0.0, 4.0)
    assert grad["output"] == HOSTILE_HINT.replace("\x1b", "").replace("\x00", "")
    timeout = report["tests"][4]
    assert (timeout["score"], timeout["max_score"]) == (0.0, 10.0)
    assert timeout["output"] == "ran past the 10 s limit"


def test_gradescope_refuses_empty_results() -> None:
    with pytest.raises(ValueError, match="no student"):
        gradescope_json({"students": []})


# --- Markdown --------------------------------------------------------------


def test_markdown_table_has_one_row_per_exercise(results: dict) -> None:
    text = markdown_summary(results)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    # Two header rows per student plus an exercise row each; no row split by a newline.
    assert len(rows) == 2 * 2 + 3 + 2
    for row in rows:
        # Unescaped pipes are exactly the cell borders: 4 cells, 5 pipes.
        assert len(re.findall(r"(?<!\\)\|", row)) == 5
    assert "16.5/30" in text and "10/10" in text


def test_markdown_escapes_student_text(results: dict) -> None:
    results["students"][0]["student"] = "<img src=x onerror=alert(1)> [click](http://evil)"
    text = markdown_summary(results)
    assert "<b>" not in text and "<img" not in text and "&lt;b&gt;3&lt;\\/b&gt;" in text
    assert "`" not in text.replace("\\`", "")
    assert "\\[click\\]\\(http" in text
    assert "\x1b" not in text and "\x00" not in text
    assert "\\| \\`rm\\`" in text
    assert "<br>second line" in text


def test_markdown_shows_why_an_exercise_was_not_graded(results: dict) -> None:
    text = markdown_summary(results)
    assert "| 03\\_loop | timeout | 0/10 | ran past the 10 s limit |" in text


# --- GitHub log fencing ----------------------------------------------------


def _commands_github_would_run(log: str) -> list[str]:
    """Replay the runner's rule: after ::stop-commands::T, nothing until a line ::T::."""
    active, stop_token, seen = True, None, []
    for line in log.splitlines():
        if not active:
            if line == f"::{stop_token}::":
                active = True
            continue
        match = re.match(r"::stop-commands::(.+)$", line)
        if match:
            active, stop_token = False, match.group(1)
        elif line.startswith("::"):
            seen.append(line)
    return seen


def test_fence_keeps_hostile_commands_inside() -> None:
    hostile = "::add-mask::x\n::set-output name=score::100\n::stop-commands::guess\n::error::x"
    fenced = fence_github_log(hostile)
    lines = fenced.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert lines[-1] == f"::{token}::"
    assert lines[1:-1] == hostile.splitlines()
    assert _commands_github_would_run(fenced + "::notice::after") == ["::notice::after"]


def test_fence_token_is_fresh_each_time() -> None:
    tokens = {fence_github_log("x").splitlines()[0] for _ in range(50)}
    assert len(tokens) == 50


def test_fence_closes_on_its_own_line() -> None:
    assert fence_github_log("no newline").splitlines()[1] == "no newline"
    assert fence_github_log("").count("\n") == 2


def test_exports_do_not_change_their_input(results: dict) -> None:
    before = copy.deepcopy(results)
    grades_csv(results), junit_xml(results), gradescope_json(results), markdown_summary(results)
    assert results == before


def test_csv_cells_hold_no_escape_or_osc_sequence(results: dict) -> None:
    results["students"][0]["student"] = "bob\x1b]8;;https://x.invalid\x07link\x1b[31m\x9d"
    rows = list(csv.reader(io.StringIO(grades_csv(results))))
    assert rows[1][0] == "bob]8;;https://x.invalidlink[31m"
