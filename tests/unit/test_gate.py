"""The sandbox gate every driver passes: one refusal, one way to run anyway per driver."""

from __future__ import annotations

from typing import Any

import pytest
from fake_session import FakeChild, FakeSession

from grader.engine.exercise import EnvironmentBroken, Settings
from grader.judge.checks import JudgeError
from grader.run.executors import ChildGone, Limits
from grader.run.gate import LEAVE_OUT_REQUIREMENT, TRUST_SUBMISSIONS, refuse_half_confined

EVERY_LAYER = {
    "namespaces": True,
    "uid": 1500000123,
    "landlock": {"files": True, "abi": 7},
    "seccomp": True,
}
NO_LANDLOCK = {**EVERY_LAYER, "landlock": {"files": False}, "namespaces": False, "uid": None}


class _Machine:
    """An executor whose children report ``sandbox`` in their hello, as a machine's would."""

    def __init__(self, hello: dict[str, Any] | BaseException) -> None:
        self.child = FakeChild(hello=hello)

    def start(self, limits: Limits, deadline: float) -> FakeSession:
        return self.child.start()

    def close(self) -> None:
        """Hold nothing."""


def _hello(sandbox: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "sandbox": {**sandbox, "reason": "Landlock is not available"}}


@pytest.mark.parametrize("way_out", [TRUST_SUBMISSIONS, LEAVE_OUT_REQUIREMENT])
def test_a_shortfall_is_refused_in_one_line_naming_the_drivers_way_out(way_out: str) -> None:
    machine = _Machine(_hello(NO_LANDLOCK))
    with pytest.raises(JudgeError) as refused:
        refuse_half_confined(machine, Settings(seed=1, require_sandbox=True), way_out=way_out)
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("refusing to run submissions: here a submission could read")
    assert "Landlock is not available" in line and "See SECURITY.md" in line
    assert line.endswith(f"or {way_out}")
    assert machine.child.starts == 1, "asked of one child, before any submission's"


def test_a_trusted_run_is_told_how_the_machine_confines_and_goes_on() -> None:
    state = refuse_half_confined(
        _Machine(_hello(NO_LANDLOCK)), Settings(seed=1), way_out=TRUST_SUBMISSIONS
    )
    assert state["landlock"] == {"files": False}


def test_every_layer_up_is_let_through() -> None:
    settings = Settings(seed=1, require_sandbox=True)
    state = refuse_half_confined(_Machine(_hello(EVERY_LAYER)), settings, way_out="")
    assert state["seccomp"] is True


def test_a_child_that_cannot_start_is_the_environment_not_a_refusal() -> None:
    with pytest.raises(EnvironmentBroken, match="not the student's doing"):
        refuse_half_confined(
            _Machine(ChildGone(1)), Settings(seed=1, require_sandbox=True), way_out=""
        )
