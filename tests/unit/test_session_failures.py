"""When the grader's own machinery fails, the student is told so, not blamed."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from fake_session import FakeChild

from grader.child.protocol import Chunk, Hello, Load, encode_request
from grader.judge.hints import CheckFailed
from grader.judge.submission import Submission, SubmissionBroken
from grader.run.children import ENVIRONMENT, Children
from grader.run.executors import ChildGone, Limits, Timeout

CHUNKS = [Chunk("exercise.py", "def f():\n    return 1\n")]


def test_a_child_that_cannot_start_breaks_the_submission_with_a_grader_hint() -> None:
    def start() -> None:
        raise RuntimeError("the grader's zygote process failed: EOF")

    submission = Submission(Children(start), CHUNKS)
    submission.start_early()  # swallowed: _ensure reports it
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == ENVIRONMENT
    assert info.value.failure.hint == "grader_failed"
    assert "zygote" in info.value.failure.params["reason"]


@pytest.mark.parametrize("error", [ChildGone(1), Timeout()])
def test_a_child_that_dies_before_its_hello_is_the_environments_fault(error) -> None:
    child = FakeChild(hello=error, output="ModuleNotFoundError: No module named 'torch'\n")
    submission = Submission(Children(child.start, timeout=5), CHUNKS)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == ENVIRONMENT
    assert "No module named 'torch'" in info.value.failure.params["reason"]


def test_a_child_that_dies_while_loading_the_file_is_the_submissions_fault() -> None:
    submission = Submission(Children(FakeChild(load=ChildGone(1)).start, timeout=5), CHUNKS)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert info.value.status == "error"
    assert info.value.failure.hint == "crashed_at_load"


@pytest.mark.skipif(sys.platform == "win32", reason="the zygote needs fork")
def test_a_killed_zygote_is_replaced() -> None:
    # The zygote imports torch before it forks: where torch is absent there is none.
    pytest.importorskip("torch")
    from grader.run.executors.warm_fork import ZygoteExecutor

    executor = ZygoteExecutor(namespaces=False)
    try:
        for round_ in range(2):
            session = executor.start(Limits(timeout=60), time.monotonic() + 60)
            assert session.request(encode_request(Hello()))["ok"]
            reply = session.request(encode_request(Load(tuple(CHUNKS))))
            assert reply["ok"], reply
            session.close()
            if round_ == 0:
                assert executor._process is not None
                os.kill(executor._process.pid, signal.SIGKILL)
                executor._process.wait()
    finally:
        executor.close()


# -- restarts and timeouts, with scripted children (tests/unit/fake_session.py) ------------
def test_a_crash_costs_one_call_and_the_next_child_loads_the_file_again() -> None:
    child = FakeChild(script={"f": [ChildGone(-11), 42]})
    submission = Submission(Children(child.start, timeout=5), CHUNKS)
    with pytest.raises(CheckFailed) as info:
        submission.call("f")
    assert info.value.hint == "crashed_in_call"
    assert "SIGSEGV" in info.value.params["reason"]
    assert submission.call("f").returned() == 42
    assert child.starts == 2 and len(child.requests("load")) == 2
    assert submission.children.restarts == 1 and submission.broken is None
    submission.close()
    # What both children printed reaches the report, in order.
    assert [e.output for e in submission.children.endings] == [
        "child 1 printed this\n",
        "child 2 printed this\n",
    ]


def test_too_many_crashes_break_the_submission() -> None:
    child = FakeChild(script={"f": [ChildGone(-9)]})
    submission = Submission(Children(child.start, timeout=5), CHUNKS)
    for _ in range(Children.MAX_RESTARTS):
        with pytest.raises(CheckFailed) as info:
            submission.call("f")
        assert info.value.hint == "crashed_in_call"
    with pytest.raises(SubmissionBroken) as broken:
        submission.call("f")
    assert (broken.value.status, broken.value.failure.hint) == ("error", "crashed_repeatedly")
    starts = child.starts
    with pytest.raises(SubmissionBroken):
        submission.call("g")  # broken for good: no further child is started
    assert child.starts == starts == Children.MAX_RESTARTS + 1


def test_running_out_of_the_exercises_time_breaks_the_submission() -> None:
    # 1.5 s: half of it is below a call's least share, so the call had all of it.
    child = FakeChild(script={"slow": [Timeout()]})
    submission = Submission(Children(child.start, timeout=1.5), CHUNKS)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("slow")
    assert (info.value.status, info.value.failure.hint) == ("timeout", "timeout")
    assert info.value.failure.params == {"function": "slow"}
    assert child.sessions[0].closed
    with pytest.raises(SubmissionBroken):
        submission.call("other")
    assert child.starts == 1


def test_a_call_past_its_share_fails_alone_and_the_next_call_gets_a_fresh_child() -> None:
    child = FakeChild(script={"slow": [Timeout()], "fast": [1]})
    submission = Submission(Children(child.start, timeout=10), CHUNKS)
    with pytest.raises(CheckFailed) as info:
        submission.call("slow")
    assert info.value.hint == "call_timeout"
    assert info.value.params == {"function": "slow", "limit": "5", "timeout": "10"}
    assert child.sessions[0].closed and submission.broken is None
    assert submission.call("fast").returned() == 1
    assert child.starts == 2 and len(child.requests("load")) == 2
    # The same function again fails at once: no second share spent on the same loop.
    with pytest.raises(CheckFailed) as again:
        submission.call("slow")
    assert again.value.params == info.value.params
    assert len(child.requests("call")) == 3  # slow, then fast twice (the repeat check)
    assert child.starts == 2
    assert submission.children.restarts == 0  # a stopped loop is not a crash


def test_each_call_may_use_half_of_the_exercises_time_left() -> None:
    child = FakeChild(script={"f": [1]})
    submission = Submission(Children(child.start, timeout=8), CHUNKS)
    now = time.monotonic()
    submission.call("f")
    load, first, repeat = child.sessions[0].deadlines[1:]
    assert load - now == pytest.approx(8, abs=0.5)  # the load has the exercise's time
    assert first - now == pytest.approx(4, abs=0.5)
    assert repeat - now == pytest.approx(4, abs=0.5)


def test_a_restarted_child_keeps_the_exercises_clock() -> None:
    child = FakeChild(script={"f": [ChildGone(1), 1]})
    submission = Submission(Children(child.start, timeout=5), CHUNKS)
    with pytest.raises(CheckFailed):
        submission.call("f")
    submission.call("f")
    first, second = (session.deadlines[1] for session in child.sessions)
    # One budget for the exercise: a crash does not buy the student more time (the new
    # child's start-up, here microseconds, is all that is added).
    assert 0 <= second - first < 0.5
    assert first - time.monotonic() <= 5


def test_a_replacement_childs_start_up_is_not_the_students_time() -> None:
    child = FakeChild(script={"slow": [Timeout()], "fast": [1]})

    def start() -> object:
        if child.starts:
            time.sleep(1.0)  # a fresh interpreter importing torch, where there is no zygote
        return child.start()

    submission = Submission(Children(start, timeout=10), CHUNKS)
    with pytest.raises(CheckFailed):
        submission.call("slow")
    submission.call("fast")
    first, second = (session.deadlines[1] for session in child.sessions)
    assert second - first >= 1.0


def test_a_file_that_does_not_load_breaks_the_submission_with_its_error() -> None:
    error = {"kind": "syntax", "line": 3, "message": "invalid syntax", "text": "def f(:"}
    child = FakeChild(load={"ok": False, "error": error})
    submission = Submission(Children(child.start, timeout=5), CHUNKS)
    with pytest.raises(SubmissionBroken) as info:
        submission.call("f")
    assert (info.value.status, info.value.failure.hint) == ("error", "syntax_error")
    assert submission.load_error == error
    assert child.sessions[0].closed


def test_the_exercises_operations_travel_with_the_load() -> None:
    child = FakeChild(script={"f": [1]})
    added = {"cube": {"arity": 1, "torch": "a ** 3"}}
    submission = Submission(Children(child.start), CHUNKS, operations=added)
    submission.call("f")
    (load,) = child.requests("load")
    assert load == encode_request(Load(tuple(CHUNKS), added))


@pytest.mark.skipif(sys.platform == "win32", reason="the zygote needs fork")
def test_a_closed_zygote_ends_on_its_own() -> None:
    """Closing the executor ends the zygote by closing its socket, not by killing it late."""
    # The zygote imports torch before it forks: where torch is absent there is none.
    pytest.importorskip("torch")
    from grader.run.executors.warm_fork import ZygoteExecutor

    executor = ZygoteExecutor(namespaces=False)
    session = executor.start(Limits(timeout=60), time.monotonic() + 60)
    assert session.request({"op": "hello"})["ok"]
    session.close()
    process = executor._process
    assert process is not None
    executor.close()
    # A kill after close()'s wait would end it with -SIGKILL.
    assert process.returncode == 0
