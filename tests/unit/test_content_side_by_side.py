"""Exercises judged side by side see their own content only: operations and torch-error patterns.

Two exercises of a course in ``tmp_path`` are graded at once on two threads
(as ``grade`` grades several). Exercise 08 brings its own operation (``cube``,
in ``operations.toml``) and a torch-error pattern (``[patterns]``); exercise 01
brings none. Their checks meet at a barrier while both are being judged, each
looks, and they meet again before either ends. A scripted child answers for
the submissions: no torch.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from fake_session import FakeChild, FakeSession

from grader.course.find import Course, Exercise
from grader.engine.exercise import Settings, grade_each, grade_exercise
from grader.run.executors import Limits
from grader.score.results import ExerciseResult

# What each check sees after the barrier: the other exercise is mid-judge by then.
SEES = """
import side_by_side

from grader.course import content
from grader.judge.answers import CallResult
from grader.judge.hints import CheckFailed


def test_sees_its_own_content(submission):
    side_by_side.barrier.wait()
    operations = content.active().operations
    call = CallResult("f", error={{"kind": "raised", "type": "RuntimeError",
                                   "message": "the cube of nothing", "line": 1}})
    try:
        call.returned()
    except CheckFailed as failure:
        hint = failure.hint
    # Neither leaves before both have looked.
    side_by_side.barrier.wait()
    side_by_side.seen["{name}"] = ("cube" in operations, hint)
"""

CUBE = """
[cube]
value = "a ** 3"
slopes = ["3.0 * a ** 2"]
torch = "a ** 3"
show = "{a} ** 3"
"""


class _ScriptedExecutor:
    """Start a scripted child per submission (stands in for the sandboxed executor)."""

    def __init__(self) -> None:
        self.child = FakeChild()

    def start(self, limits: Limits, deadline: float) -> FakeSession:
        return self.child.start()

    def close(self) -> None:
        """Hold nothing."""


def _course(root: Path) -> Course:
    (root / "course.toml").write_text('title = "side by side"\n', encoding="utf-8")
    for name in ("01_plain", "08_own_content"):
        (root / "exercises" / name).mkdir(parents=True)
        (root / "exercises" / name / "exercise.py").write_text("def f():\n    pass\n")
        checks = root / "checks" / name
        checks.mkdir(parents=True)
        (checks / f"test_{name}.py").write_text(SEES.format(name=name), encoding="utf-8")
    (root / "checks" / "08_own_content" / "operations.toml").write_text(CUBE, encoding="utf-8")
    english = root / "templates" / "locale" / "en"
    english.mkdir(parents=True)
    (english / "08_own_content.toml").write_text(
        '[patterns]\ncube_of_nothing = "the cube of nothing"\n', encoding="utf-8"
    )
    return Course.load(root)


def test_two_exercises_graded_side_by_side_see_only_their_own_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting = types.ModuleType("side_by_side")
    meeting.barrier = threading.Barrier(2, timeout=30)  # type: ignore[attr-defined]
    seen: dict[str, tuple[bool, str]] = {}
    meeting.seen = seen  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "side_by_side", meeting)
    course = _course(tmp_path)
    executor = _ScriptedExecutor()

    def grade_one(exercise: Exercise) -> ExerciseResult:
        return grade_exercise(
            course, exercise, exercise.folder / "exercise.py", executor, Settings(seed=1)
        )

    started = time.monotonic()
    results = grade_each(list(course.exercises), grade_one, at_once=2)
    assert time.monotonic() - started < 60
    problems: list[Any] = [r["checks"] for r in results if r["score"] != r["max_score"]]
    assert not problems, problems
    assert seen == {
        # The built-ins only, and torch's message left to the shared hint.
        "01_plain": (False, "raised"),
        # Its own operation, and its own pattern's hint.
        "08_own_content": (True, "cube_of_nothing"),
    }
