"""Which layers give which guarantee, and what the child is allowed to reach."""

from __future__ import annotations

import sys

import pytest

from grader.child import confine
from grader.run.executors.sandboxed import python_folders
from grader.run.sandbox import GUARANTEES, held, layers, shortfall

LANDLOCK = {"abi": 7, "files": True, "tcp": True, "signals": True}


@pytest.mark.parametrize(
    "state",
    [
        # 1. root with every capability
        {"namespaces": True, "uid": "unique", "landlock": LANDLOCK, "seccomp": True},
        # 2. root in a default container
        {"namespaces": False, "uid": "unique", "landlock": LANDLOCK, "seccomp": True},
        # 3. an ordinary user with user namespaces
        {"namespaces": True, "uid": None, "landlock": LANDLOCK, "seccomp": True},
        # 4. an ordinary user without them
        {"namespaces": False, "uid": None, "landlock": LANDLOCK, "seccomp": True},
        # an old kernel without Landlock, as root: namespaces and the uid still cover files
        {"namespaces": True, "uid": "unique", "landlock": None, "seccomp": True},
    ],
)
def test_every_deployment_holds_every_guarantee(state):
    assert held(state) == dict.fromkeys(GUARANTEES, True)
    assert shortfall(state) == ""


def test_without_landlock_or_namespaces_files_are_exposed_and_the_reason_is_given():
    state = {
        "namespaces": False,
        "uid": None,
        "landlock": None,
        "seccomp": True,
        "reason": "Landlock is not available: the kernel lacks it",
    }
    assert held(state)["files"] is False
    assert held(state)["network"] is True
    line = shortfall(state)
    assert "\n" not in line
    assert "read the grading user's files" in line and "Landlock is not available" in line
    assert "layers that ran: seccomp" in line


def test_an_ordinary_user_in_namespaces_without_landlock_can_read_home():
    # Mapped to root in its user namespace, the child is the grading user: home stays readable.
    state = {"namespaces": True, "uid": None, "landlock": None, "seccomp": False}
    # (and with no seccomp and no uid of its own, nothing caps how many processes it forks)
    assert held(state) == {"files": False, "network": True, "processes": True, "teardown": False}


def test_nothing_reported_is_nothing_held():
    assert not any(held(None).values())
    assert layers(None) == "none"
    assert "no sandbox was reported" in shortfall({})


def test_python_folders_leave_out_a_folder_that_holds_a_hidden_one(tmp_path, monkeypatch):
    course = tmp_path / "course"
    venv_site = course / ".venv" / "site-packages"
    venv_site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(course), str(venv_site), "", "relative"])
    folders = python_folders([str(course)])
    assert str(course) not in folders  # the course root on sys.path: its checks would show
    assert str(venv_site) in folders  # a venv inside the course stays readable
    assert "" not in folders and "relative" not in folders


def test_the_scratch_folder_is_the_only_writable_place_without_namespaces(monkeypatch, tmp_path):
    monkeypatch.setitem(confine.state, "namespaces", False)
    rules = confine.landlock_rules({"python": ["/opt/py"], "scratch": str(tmp_path)})
    assert str(tmp_path) in rules.write
    assert all(p.startswith("/dev/") for p in rules.write if p != str(tmp_path))
    assert "/opt/py" in rules.read and str(tmp_path) not in rules.read
    monkeypatch.setitem(confine.state, "namespaces", True)
    rules = confine.landlock_rules({"python": [], "scratch": str(tmp_path)})
    assert "/tmp" in rules.write and str(tmp_path) not in rules.write
