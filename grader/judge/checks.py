"""Run an exercise's hidden checks against a submission, in this trusted process.

pytest drives the checks (``checks/NN_name/test_*.py``); this module's plugin
hands them the ``submission`` fixture, a seeded ``rng`` and a ``plots`` list,
and keeps each check's verdict as plain data. Each exercise's checks are
collected once per process and re-run for every submission. Student code
never runs here: the fixture only exchanges data with the child process.
"""

from __future__ import annotations

import io
import os
import random
import sys
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.child import wire
from grader.course.find import checks_digest
from grader.judge import crashes
from grader.judge.hints import CheckFailed, asserted, forget_hint, without_addresses
from grader.judge.submission import Submission, SubmissionBroken

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
    """Give the checks their fixtures and keep each check's verdict as plain data."""

    def __init__(self, checks_dir: Path) -> None:
        self._checks_dir = checks_dir
        # Named apart from the fixtures: pytest reads fixtures off this object's attributes.
        self._submission: Submission | None = None
        self._seed = 0
        self.recorded_plots: list[dict[str, Any]] = []
        self.failures: dict[str, BaseException | None] = {}
        self.outcomes: dict[str, str] = {}
        self.collect_errors: list[str] = []

    def begin(self, submission: Submission, seed: int) -> None:
        """Forget the last submission's verdicts; judge ``submission`` next."""
        self._submission, self._seed = submission, seed
        self.recorded_plots = []
        self.failures, self.outcomes = {}, {}

    @pytest.fixture
    def submission(self) -> Submission:
        assert self._submission is not None
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

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = str(report.longrepr).strip().splitlines()
            self.collect_errors.append(f"{report.nodeid}: {lines[-1] if lines else 'error'}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_assertrepr_compare(
        self, config: pytest.Config, op: str, left: Any, right: Any
    ) -> Generator[None, Any, None]:
        # pytest's own account of `assert a == b` asks the terminal reporter for its
        # colours, and this session has none (no:terminal): it raised inside pytest
        # and a check's plain assert came out as a bare AssertionError. The same
        # account, in plain text, replaces its result (and that error).
        from _pytest.assertion import util

        # pytest shows the full diff when the variable CI is set, so a student's hint
        # read differently on the course's CI than on their laptop. The account is
        # the short one everywhere (set, never restored: judges run on threads).
        util.running_on_ci = _not_on_ci
        outcome = yield
        outcome.force_result([util.assertrepr_compare(_Uncoloured(config), op, left, right)])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[Any]
    ) -> pytest.TestReport:
        # The exception itself (a CheckFailed's hint), not its printed form.
        excinfo = call.excinfo
        if call.when == "setup":
            forget_hint()
        if call.when == "call":
            error = excinfo.value if excinfo else None
            if isinstance(error, AssertionError) and not isinstance(error, CheckFailed):
                # A plain assert is a verdict, as in pytest: read its hint now, in
                # the check's own context, before the next check names another.
                error = asserted(error)
            elif error is not None and not isinstance(
                error, (CheckFailed, SubmissionBroken, pytest.skip.Exception)
            ):
                # A real crash of the check: its traceback is for the author only.
                crashes.keep(self._checks_dir, item.nodeid.rsplit("::", 1)[-1], error)
            self.failures[item.nodeid] = error
        # This report replaces pytest's own, which prints the failure's traceback
        # with source excerpts that nobody reads here. Printing it parses source
        # with ast, and Python 3.11 keeps the AST converter's recursion depth per
        # process, not per thread: exercises judged side by side on threads then
        # fail at random with "SystemError: AST constructor recursion depth mismatch".
        longrepr: tuple[str, int, str] | str | None = None
        if excinfo is None:
            outcome = "passed"
        elif isinstance(excinfo.value, pytest.skip.Exception):
            outcome = "skipped"
            longrepr = (str(item.path), item.location[1] or 0, str(excinfo.value))
        else:
            outcome, longrepr = "failed", excinfo.exconly()
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {},
            outcome,  # type: ignore[arg-type]
            longrepr,
            call.when,  # type: ignore[arg-type]
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # A check passes when its setup, call and teardown all pass.
        if report.outcome != "passed" or report.nodeid not in self.outcomes:
            self.outcomes[report.nodeid] = report.outcome


def _not_on_ci() -> bool:
    return False


class _Uncoloured:
    """The judge's pytest config, for pytest's assertion explainer: plain text, no colours."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def get_terminal_writer(self) -> Any:
        from _pytest._io import TerminalWriter

        return TerminalWriter(io.StringIO())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._config, name)


@dataclass
class _Check:
    """One collected check and what it is worth."""

    item: pytest.Item
    name: str
    title: str
    points: float


class _Checks:
    """An exercise's checks, collected once in this process and run for each submission.

    ``pytest.main`` per exercise spent most of a grade on configuration,
    plugin registration and collection; here those happen once per process
    and each submission only re-runs the collected items (as pytest-rerunfailures
    re-runs one), with fresh function-scoped fixtures every time.
    """

    def __init__(self, checks_dir: Path) -> None:
        from _pytest.config import _prepareconfig  # pytest.main's own first step

        # Installed pytest plugins (randomly, xdist, ...) must not reorder or alter checks.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        self.plugin = _JudgePlugin(checks_dir)
        args = [
            str(checks_dir),
            "-c",
            os.devnull,
            # The rootdir above the exercise folders names check modules "NN_name.test_x",
            # so two exercises' test_values.py never share one module.
            "--rootdir",
            str(checks_dir.parent),
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
            # The session outlives a grade: no capture of this process's file descriptors
            # (a batch's progress and a student's terminal must stay reachable), no report.
            "-s",
            "-p",
            "no:terminal",
            # Several exercises are judged at once on threads: these two swap process-wide
            # state (warning filters, the root logger's level) per check, and would restore
            # each other's.
            "-p",
            "no:warnings",
            "-p",
            "no:logging",
            "--import-mode=importlib",
        ]
        with _marks_kept(), _quiet() as sink:
            self.config = _prepareconfig(args, [self.plugin])
            try:
                self.config._do_configure()
                self.session = pytest.Session.from_config(self.config)
                self.config.hook.pytest_sessionstart(session=self.session)
                self.session.perform_collect()
            except BaseException:
                self.config._ensure_unconfigure()
                raise
            if self.plugin.collect_errors or not self.session.items:
                self.config._ensure_unconfigure()
                found = self.plugin.collect_errors[:1] or sink.getvalue().strip().splitlines()[-1:]
                raise JudgeError(
                    f"the checks in {checks_dir} could not run: {(found or ['no checks found'])[0]}"
                )
        self.checks = [_collected(item) for item in self.session.items]
        self._running = threading.Lock()  # one submission at a time through these items

    def close(self) -> None:
        """Unconfigure this collection's pytest config (as after a pytest.main)."""
        with _marks_kept(), self._running:
            self.config._ensure_unconfigure()

    def run(self, submission: Submission, seed: int) -> list[CheckOutcome]:
        """Run every check against ``submission``; return their outcomes in order."""
        with self._running:
            return self._run(submission, seed)

    def _run(self, submission: Submission, seed: int) -> list[CheckOutcome]:
        plugin = self.plugin
        plugin.begin(submission, seed)
        past_the_cut: dict[str, dict[str, int]] = {}
        answered: dict[str, str] = {}
        try:
            with _quiet():
                for check in self.checks:
                    # What each check got past the child's cut, and whose answer it got
                    # last, are its own (see _hint).
                    submission.too_large.clear()
                    submission.last_returned = ""
                    check.item.ihook.pytest_runtest_protocol(item=check.item, nextitem=None)
                    past_the_cut[check.item.nodeid] = dict(submission.too_large)
                    answered[check.item.nodeid] = submission.last_returned
        except pytest.exit.Exception as exc:
            raise JudgeError(f"the checks stopped the run: {exc}") from None
        outcomes = []
        for check in self.checks:
            nodeid = check.item.nodeid
            if nodeid not in plugin.failures:
                raise JudgeError(f"check {nodeid} failed before it ran (a bug in the check)")
            error = plugin.failures[nodeid]
            outcomes.append(
                CheckOutcome(
                    name=check.name,
                    title=check.title,
                    passed=plugin.outcomes.get(nodeid) == "passed",
                    max_score=check.points,
                    **_hint(error, past_the_cut.get(nodeid, {}), answered.get(nodeid, "")),
                )
            )
        return outcomes


def _collected(item: pytest.Item) -> _Check:
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip().splitlines()
    name = item.nodeid.rsplit("::", 1)[-1]
    title = doc[0] if doc else item.name
    if doc and "[" in name:
        # A parametrized check: one title per parameter, or the report lists one title thrice.
        title += " [" + name.split("[", 1)[1]
    return _Check(item=item, name=name, title=title, points=points_of(item))


def _hint(
    error: BaseException | None, too_large: dict[str, int] | None = None, answered: str = ""
) -> dict[str, Any]:
    """Return the hint id and parameters of a failed check's exception.

    ``answered`` names the function whose answer the check got last: a crash after
    it may be that answer's doing, which ``grader.judge.reference`` tells apart.
    """
    if error is None:
        return {}
    if isinstance(error, SubmissionBroken):
        error = error.failure
    if isinstance(error, CheckFailed):
        return {"hint": error.hint, "params": error.params}
    if too_large:
        # The check crashed on numbers it never got: the student returned a tensor past
        # the child's cut. Their failure, said as such; not the checks' (which exits 2
        # and keeps the student out of the gradebook).
        function, numel = list(too_large.items())[-1]
        params = {"function": function, "numel": numel, "limit": wire.MAX_ELEMENTS}
        return {"hint": "value_too_large", "params": params}
    params = {"message": without_addresses(f"{type(error).__name__}: {error}")[:300]}
    if answered:
        params["function"] = answered
    return {"hint": "check_error", "params": params}


@contextmanager
def _marks_kept() -> Iterator[None]:
    """Leave ``pytest.mark`` answering to the caller's pytest config.

    Configuring or unconfiguring a config makes it the one ``pytest.mark`` answers to,
    and a judge's config stays configured for the life of the process: a test run
    around an in-process grade would otherwise call its own markers unknown.
    """
    from _pytest.mark import MARK_GEN

    callers = MARK_GEN._config
    try:
        yield
    finally:
        MARK_GEN._config = callers


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[Any, Any] = (None, None)
_quiet_sink = io.StringIO()


@contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Keep what the checks print away from the terminal (it may quote hidden answers).

    Counted, so that judges running at once on threads share one redirection
    and the last to finish puts the real streams back.
    """
    global _quiet_depth, _quiet_saved, _quiet_sink
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved, _quiet_sink = (sys.stdout, sys.stderr), io.StringIO()
            sys.stdout = sys.stderr = _quiet_sink
        _quiet_depth += 1
        sink = _quiet_sink
    try:
        yield sink
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                sys.stdout, sys.stderr = _quiet_saved


# Collected once per process and exercise: a batch worker judges every student with them.
_collected_checks: dict[str, tuple[str, _Checks]] = {}
_collecting = threading.Lock()


def points_of(item: pytest.Item) -> float:
    """Return the points of one collected check (``@points(n)``; 1 without the mark)."""
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker and marker.args else 1.0


def max_score(checks_dir: Path) -> float:
    """Sum the points of the checks in ``checks_dir`` as a grade collects them, unrun.

    For an exercise not handed in: its points must be those a graded one counts.
    """
    return sum(check.points for check in _checks_for(checks_dir).checks)


def _checks_for(checks_dir: Path) -> _Checks:
    key = str(checks_dir.resolve())
    version = checks_digest(checks_dir)
    with _collecting:
        held = _collected_checks.get(key)
        if held is not None and held[0] == version:
            return held[1]
        if held is not None:
            # The checks were edited since this process collected them (a warm
            # worker outlives a batch): forget the old modules, or importing
            # them again would hand back the old code.
            held[1].close()
            for name, module in list(sys.modules.items()):
                if (getattr(module, "__file__", None) or "").startswith(key + os.sep):
                    del sys.modules[name]
        checks = _Checks(checks_dir)
        _collected_checks[key] = (version, checks)
    return checks


def judge(checks_dir: Path, submission: Submission, seed: int) -> Verdict:
    """Run every check in ``checks_dir`` against ``submission``.

    Safe to call on several threads at once for different exercises (the
    collected checks of one exercise serve one submission at a time).
    """
    try:
        checks = _checks_for(checks_dir)
        outcomes = checks.run(submission, seed)
        plots = checks.plugin.recorded_plots
    finally:
        submission.close()
    return Verdict(checks=outcomes, broken=submission.broken, plots=plots)
