"""A function that never returns costs its own checks, not the exercise: `grade` and `grade batch`.

The fixture's ``accumulated_grad`` loops forever next to a correct
``zeroed_grads`` and ``zero_grad_``. Durations are printed for the record and
bounded only generously: this machine is shared, and a timed assertion that
is tight would fail for reasons of its own.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import COURSE, SUBMISSIONS, only_exercise

HANGS = SUBMISSIONS / "05_grad_accumulation" / "infinite_loop_in_accumulated_grad.py"
TIMEOUT = 10.0
# The start-up allowance: a fresh interpreter importing torch for the first child and
# for the one that replaces the stopped child, on a loaded machine.
START_UP = 30.0
KEPT = {
    "test_zeroed_grads_values",
    "test_steps_are_independent",
    "test_zero_grad_in_place",
    "test_zero_grad_none_is_noop",
}
HUNG = {"test_accumulated_grad_values", "test_uses_autograd"}


def _grade(*args: str | Path, cwd: Path = COURSE) -> subprocess.CompletedProcess[str]:
    grade = shutil.which("grade")
    assert grade, "the grade command is not on PATH (pip install -e .)"
    done = subprocess.run(
        [grade, *map(str, args), "--seed", "1", "--timeout", f"{TIMEOUT:g}"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + START_UP + 60,
        cwd=cwd,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _assert_kept_and_named(exercise: dict[str, Any]) -> None:
    checks = {c["name"]: c for c in exercise["checks"]}
    assert exercise["status"] == "graded", exercise["message"]
    assert {n for n, c in checks.items() if c["passed"]} == KEPT
    assert exercise["score"] == sum(checks[n]["max_score"] for n in KEPT) == 6
    for name in HUNG:
        hint = checks[name]["hint"]
        assert hint["id"] == "call_timeout"
        assert hint["params"] == {"function": "accumulated_grad", "limit": "5", "timeout": "10"}
        assert "`accumulated_grad` was still running after 5 s" in checks[name]["message"]


def test_a_hanging_function_keeps_the_other_functions_points(tmp_path: Path) -> None:
    started = time.monotonic()
    run = _grade(
        HANGS, "--exercise", "05", "--json", tmp_path / "r.json", "--html", tmp_path / "r.html"
    )
    took = time.monotonic() - started
    print(f"grade with one hanging function: {took:.1f} s (timeout {TIMEOUT:g} s)")
    assert run.returncode == 1, run.stderr
    _assert_kept_and_named(only_exercise(tmp_path / "r.json"))
    assert "`accumulated_grad` was still running after 5 s" in run.stdout
    assert took < TIMEOUT + START_UP


def test_a_hanging_function_in_a_batch_keeps_the_other_functions_points(tmp_path: Path) -> None:
    # The batch's children come from a warm zygote: the stopped child's replacement too.
    student = tmp_path / "class" / "loops_in_accumulated_grad"
    student.mkdir(parents=True)
    shutil.copy(HANGS, student / "05_grad_accumulation.py")
    started = time.monotonic()
    run = _grade(
        "batch", tmp_path / "class", "--out", tmp_path / "out", "--exercises", "05", "--jobs", "1"
    )
    print(f"grade batch with one hanging function: {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    (record,) = document["students"]
    (exercise,) = record["exercises"]
    _assert_kept_and_named(exercise)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is how the test stops it")
def test_watch_says_what_it_waits_for_and_the_first_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    grade = shutil.which("grade")
    assert grade
    # A 20-minute limit: the loop's share is 10 minutes, far past the test's own wait
    # for the grade to end, so a grade that waited for the loop fails with TimeoutExpired.
    watcher = subprocess.Popen(
        [grade, str(HANGS), "--exercise", "05", "--watch", "--seed", "1", "--timeout", "1200"]
        + ["--html", str(tmp_path / "r.html")],
        cwd=COURSE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        line = watcher.stderr.readline()  # blocks until the grade says something
        assert line.startswith("grade: 05_grad_accumulation: still waiting for `accumulated_")
        assert "stopped after 600 s" in line
        interrupted = time.monotonic()
        watcher.send_signal(signal.SIGINT)
        code = watcher.wait(timeout=120)
        took = time.monotonic() - interrupted
        rest = watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    print(f"--watch stopped {took:.1f} s after Ctrl-C")
    assert code == 0 and "Traceback" not in rest
    assert "stopping now" in rest
