"""A faster grader gives the very grades it gave before: the mixed class's recorded figures.

The figures were recorded with the sandboxed ``grade batch`` (seed 1) before
grading was made faster (tests/fixtures/same_grades). Here the same class is
graded in-process, through the same judge; tests/e2e/test_batch.py grades it
sandboxed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grader.course.find import Course
from grader.engine.exercise import Settings, grade_exercise
from grader.run.executors import Limits
from grader.run.executors.in_process import InProcessExecutor

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "same_grades"))
import mixed_class  # noqa: E402


@pytest.mark.slow
def test_mixed_class_gets_the_recorded_grades(tmp_path: Path) -> None:
    pytest.importorskip("torch")  # the class runs in this process
    course = Course.load(REPO)
    settings = Settings(seed=mixed_class.SEED, limits=Limits(timeout=600))
    executor = InProcessExecutor()
    graded = {
        student: {
            name: mixed_class.figures_of(
                grade_exercise(course, course.exercise(name), path, executor, settings)
            )
            for name, path in files.items()
        }
        for student, files in mixed_class.build_class(tmp_path / "class").items()
    }
    assert graded == mixed_class.recorded()
