"""Run an exercise's hidden checks against a submission, in this trusted process.

pytest drives the checks (``checks/NN_name/test_*.py``); this module's plugin
hands them the ``submission`` fixture, a seeded ``rng`` and a ``plots`` list,
and pytest-json-report turns the run into plain dicts. Student code never runs
here: the fixture only exchanges data with the child process.
"""

from __future__ import annotations

import functools
import io
import os
import random
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.check import CheckFailed, Submission, SubmissionBroken

__all__ = ["CheckOutcome", "Verdict", "judge", "max_score", "points_of", "JudgeError"]


class JudgeError(Exception):
    """The checks themselves could not run (a broken course, not a broken submission)."""


@dataclass
class CheckOutcome:
    """One check's verdict with its points and hint (id and parameters)."""

    name: str
    title: str
    passed: bool
    max_score: float
    hint: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.max_score if self.passed else 0.0


@dataclass
class Verdict:
    """Every check's outcome for one exercise, and how the submission held up."""

    checks: list[CheckOutcome]
    broken: SubmissionBroken | None
    plots: list[dict[str, Any]]


class _JudgePlugin:
    """Give the checks their fixtures and record each verdict as plain data."""

    def __init__(self, submission: Submission, seed: int) -> None:
        self._submission = submission
        self._seed = seed
        self.recorded_plots: list[dict[str, Any]] = []

    @pytest.fixture
    def submission(self) -> Submission:
        return self._submission

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> random.Random:
        # One stream per check: adding a check never changes another check's inputs.
        return random.Random(f"{self._seed}:{request.node.name}")

    @pytest.fixture
    def plots(self) -> list[dict[str, Any]]:
        return self.recorded_plots

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the points a check is worth")

    def pytest_json_runtest_metadata(
        self, item: pytest.Item, call: pytest.CallInfo[Any]
    ) -> dict[str, Any]:
        if call.when != "call":
            return {}
        doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip().splitlines()
        meta: dict[str, Any] = {
            "points": points_of(item),
            "title": doc[0] if doc else item.name,
        }
        if call.excinfo is not None:
            error = call.excinfo.value
            if isinstance(error, SubmissionBroken):
                error = error.failure
            if isinstance(error, CheckFailed):
                meta["hint"] = {"id": error.hint, "params": error.params}
            else:
                meta["hint"] = {
                    "id": "check_error",
                    "params": {"message": f"{type(error).__name__}: {error}"[:300]},
                }
        return meta


def points_of(item: pytest.Item) -> float:
    """Return the points of one collected check (``@points(n)``; 1 without the mark)."""
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


class _PointsCollector:
    """Sum the points of the checks pytest collects, one per parameter of a parametrized check."""

    def __init__(self) -> None:
        self.points: list[float] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): the points a check is worth")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.points = [points_of(item) for item in items]


def max_score(checks_dir: Path) -> float:
    """Sum the points of the checks in ``checks_dir`` as a grade would collect them, unrun.

    For an exercise not handed in: its points must be those a graded one counts.
    Collected once per version of the check files (a class has many missing files).
    """
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(checks_dir.rglob("*.py")))
    return _collected_points(checks_dir, stamp)


@functools.lru_cache(maxsize=64)
def _collected_points(checks_dir: Path, stamp: tuple[tuple[str, int], ...]) -> float:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    collector = _PointsCollector()
    args = [str(checks_dir), "-c", os.devnull, "--rootdir", str(checks_dir.parent)]
    args += ["-p", "no:cacheprovider", "--import-mode=importlib", "--collect-only", "-q"]
    sink = io.StringIO()
    with redirect_stdout(sink), redirect_stderr(sink):
        code = pytest.main(args, plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        detail = sink.getvalue().strip().splitlines()[-1:] or ["no checks found"]
        raise JudgeError(f"the checks in {checks_dir} could not be collected: {detail[0]}")
    return sum(collector.points)


def judge(checks_dir: Path, submission: Submission, seed: int) -> Verdict:
    """Run every check in ``checks_dir`` against ``submission``."""
    from pytest_jsonreport.plugin import JSONReport

    # Installed pytest plugins (randomly, xdist, ...) must not reorder or alter checks.
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugin = _JudgePlugin(submission, seed)
    report = JSONReport()
    args = [
        str(checks_dir),
        "-c",
        os.devnull,
        # The rootdir above the exercise folders names check modules "NN_name.test_x",
        # so two exercises' test_values.py never share one module.
        "--rootdir",
        str(checks_dir.parent),
        "-p",
        "pytest_jsonreport.plugin",
        "-p",
        "no:cacheprovider",
        # Plugins a grade does not need. unraisableexception forces five full
        # gc.collect() passes per run: over a second with torch in the heap.
        "-p",
        "no:unraisableexception",
        "-p",
        "no:threadexception",
        "-p",
        "no:doctest",
        "-p",
        "no:junitxml",
        "-p",
        "no:pastebin",
        # (legacypath stays: pytest-json-report reads session.fspath from it.)
        "--import-mode=importlib",
        "--json-report-file=none",
        "-q",
    ]
    sink = io.StringIO()
    try:
        with redirect_stdout(sink), redirect_stderr(sink):
            code = pytest.main(args, plugins=[plugin, report])
    finally:
        submission.close()
    tests = (report.report or {}).get("tests", [])
    if (
        code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)
        or (code == pytest.ExitCode.INTERRUPTED)
        or not tests
    ):
        detail = sink.getvalue().strip().splitlines()[-1:] or ["no checks found"]
        raise JudgeError(f"the checks in {checks_dir} could not run: {detail[0]}")
    outcomes = []
    for test in tests:
        meta = test.get("metadata", {})
        if "points" not in meta:
            raise JudgeError(f"check {test['nodeid']} failed before it ran (a bug in the check)")
        hint = meta.get("hint") or {}
        outcomes.append(
            CheckOutcome(
                name=test["nodeid"].rsplit("::", 1)[-1],
                title=meta.get("title", ""),
                passed=test.get("outcome") == "passed",
                max_score=meta["points"],
                hint=hint.get("id", ""),
                params=hint.get("params", {}),
            )
        )
    return Verdict(checks=outcomes, broken=submission.broken, plots=plugin.recorded_plots)
