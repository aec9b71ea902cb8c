"""The benchmark's baseline: grade with a fresh `python -m pytest` and no isolation.

Loaded with `-p naive_plugin`; STUDENT_FILE names the submission. The
student's code runs inside the pytest process, as the most-used graders do.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from grader.judge.submission import Submission
from grader.run.children import Children
from grader.run.executors import Limits
from grader.run.executors.in_process import InProcessExecutor
from grader.submission.source import read_source

_source = read_source(Path(os.environ["STUDENT_FILE"]))
_submission = Submission(
    Children(lambda: InProcessExecutor().start(Limits(), time.monotonic() + 600)), _source.wire()
)


@pytest.fixture
def submission() -> Submission:
    return _submission


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    return random.Random(f"1:{request.node.name}")


@pytest.fixture
def plots() -> list:
    return []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points")
