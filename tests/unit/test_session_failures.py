"""When the grader's own machinery fails, the student is told so, not blamed."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from grader.check import Submission, SubmissionBroken
from grader.executor import Limits

CHUNKS = [{"name": "exercise.py", "source": "def f():\n    return 1\n"}]


def test_a_child_that_cannot_start_breaks_the_submission_with_a_grader_hint() -> None:
    def start() -> None:
        raise RuntimeError("the grader's zygote process failed: EOF")

    submission = Submission(start, CHUNKS)
    submission.start_early()  # swallowed: _ensure reports it
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == "error"
    assert info.value.failure.hint == "grader_failed"
    assert "zygote" in info.value.failure.params["reason"]


@pytest.mark.skipif(sys.platform == "win32", reason="the zygote needs fork")
def test_a_killed_zygote_is_replaced() -> None:
    from grader.zygote import ZygoteExecutor

    executor = ZygoteExecutor(namespaces=False)
    try:
        for round_ in range(2):
            session = executor.start(Limits(timeout=60), time.monotonic() + 60)
            reply = session.request({"op": "load", "chunks": CHUNKS})
            assert reply["ok"], reply
            session.close()
            if round_ == 0:
                assert executor._process is not None
                os.kill(executor._process.pid, signal.SIGKILL)
                executor._process.wait()
    finally:
        executor.close()
