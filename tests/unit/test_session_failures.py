"""When the grader's own machinery fails, the student is told so, not blamed."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from grader.check import ENVIRONMENT, Submission, SubmissionBroken
from grader.executor import ChildGone, Ending, Limits, Timeout

CHUNKS = [{"name": "exercise.py", "source": "def f():\n    return 1\n"}]


def test_a_child_that_cannot_start_breaks_the_submission_with_a_grader_hint() -> None:
    def start() -> None:
        raise RuntimeError("the grader's zygote process failed: EOF")

    submission = Submission(start, CHUNKS)
    submission.start_early()  # swallowed: _ensure reports it
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == ENVIRONMENT
    assert info.value.failure.hint == "grader_failed"
    assert "zygote" in info.value.failure.params["reason"]


class _DyingSession:
    """A child that ends before (or right after) its hello, as a broken environment makes it."""

    def __init__(self, dies_on: str, error: Exception) -> None:
        self.dies_on = dies_on
        self.error = error
        self.deadline = time.monotonic() + 60

    def request(self, message: dict) -> dict:
        if message["op"] == self.dies_on:
            raise self.error
        return {"ok": True, "sandbox": {"seccomp": True}}

    def close(self) -> Ending:
        return Ending(output="ModuleNotFoundError: No module named 'torch'\n", returncode=1)


@pytest.mark.parametrize("error", [ChildGone(1), Timeout()])
def test_a_child_that_dies_before_its_hello_is_the_environments_fault(error) -> None:
    submission = Submission(lambda: _DyingSession("hello", error), CHUNKS, timeout=5)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == ENVIRONMENT
    assert "No module named 'torch'" in info.value.failure.params["reason"]


def test_a_child_that_dies_while_loading_the_file_is_the_submissions_fault() -> None:
    submission = Submission(lambda: _DyingSession("load", ChildGone(1)), CHUNKS, timeout=5)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == "error"
    assert info.value.failure.hint == "crashed_at_load"


@pytest.mark.skipif(sys.platform == "win32", reason="the zygote needs fork")
def test_a_killed_zygote_is_replaced() -> None:
    from grader.zygote import ZygoteExecutor

    executor = ZygoteExecutor(namespaces=False)
    try:
        for round_ in range(2):
            session = executor.start(Limits(timeout=60), time.monotonic() + 60)
            assert session.request({"op": "hello"})["ok"]
            reply = session.request({"op": "load", "chunks": CHUNKS})
            assert reply["ok"], reply
            session.close()
            if round_ == 0:
                assert executor._process is not None
                os.kill(executor._process.pid, signal.SIGKILL)
                executor._process.wait()
    finally:
        executor.close()


@pytest.mark.skipif(sys.platform == "win32", reason="the zygote needs fork")
def test_a_closed_zygote_ends_on_its_own() -> None:
    """Closing the executor ends the zygote by closing its socket, not by killing it late."""
    from grader.zygote import ZygoteExecutor

    executor = ZygoteExecutor(namespaces=False)
    session = executor.start(Limits(timeout=60), time.monotonic() + 60)
    assert session.request({"op": "hello"})["ok"]
    session.close()
    process = executor._process
    assert process is not None
    executor.close()
    # A kill after close()'s wait would end it with -SIGKILL.
    assert process.returncode == 0
