"""Where the sandbox holds, where it falls short, and who is blamed when the grader breaks.

These run in every deployment `.ci/run` simulates (root; root without
CAP_SYS_ADMIN under a container's seccomp profile; an ordinary user with and
without user namespaces), each time as the user and with the Python of that
deployment: what they assert must hold wherever a class is graded.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import COURSE, GRADE, SUBMISSIONS, only_exercise, results, without_intake_table

from grader.run.sandbox import held

REFUSE = COURSE / "tests" / "deploy" / "refuse.py"
PASSES = SUBMISSIONS / "01_leaf_tensors" / "passes_all.py"

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's layers are Linux's")


def refused(kinds: str, *command: str | Path) -> list[str]:
    """Return ``command`` run where ``kinds`` (namespaces, mounts, landlock) are refused."""
    return [sys.executable, str(REFUSE), kinds, "--", *map(str, command)]


def run(argv: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=COURSE,
        errors="replace",
        **kwargs,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def grade_passes_all(tmp_path: Path, *refuse: str, grade: str | Path | None = None):
    """Grade a correct exercise 01 (where ``refuse[0]`` is refused, if given); return the run."""
    report = ["--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")]
    command = [str(grade or GRADE), str(PASSES), "--exercise", "01", "--seed", "1", *report]
    return run(refused(refuse[0], *command) if refuse else command)


def make_class(root: Path, students: dict[str, Path]) -> Path:
    for name, source in students.items():
        folder = root / name / "01_leaf_tensors"
        folder.mkdir(parents=True)
        shutil.copy(source, folder / "exercise.py")
    return root


@linux_only
def test_every_guarantee_holds_here(tmp_path):
    done = grade_passes_all(tmp_path)
    ex = only_exercise(tmp_path / "r.json")
    assert ex["score"] == ex["max_score"] == 10.0, done.stdout
    assert held(ex["sandbox"]) == dict.fromkeys(held(None), True), ex["sandbox"]
    assert "isolation is partial" not in done.stdout
    # Every deployment has the unprivileged layers; namespaces come on top where allowed.
    assert ex["sandbox"]["seccomp"] is True and ex["sandbox"]["landlock"]["files"] is True


@linux_only
@pytest.mark.parametrize("kinds", ["namespaces", "mounts"])
def test_without_namespaces_the_other_layers_still_hold(tmp_path, kinds):
    done = grade_passes_all(tmp_path, kinds)
    ex = only_exercise(tmp_path / "r.json")
    assert ex["score"] == 10.0, done.stdout
    assert ex["sandbox"]["namespaces"] is False
    assert all(held(ex["sandbox"]).values()), ex["sandbox"]


@linux_only
def test_batch_refuses_where_the_sandbox_falls_short(tmp_path):
    klass = make_class(tmp_path / "class", {"ada": PASSES})
    out = tmp_path / "out"
    done = run(refused("namespaces,landlock", GRADE, "batch", klass, "--out", out, "--jobs", "1"))
    assert done.returncode == 2, done.stderr
    (line,) = without_intake_table(done.stderr)
    assert line.startswith("grade: error: refusing to run submissions")
    assert "Landlock is not available" in line and "--trust-submissions" in line
    assert not (out / "results.json").exists()
    assert not list(out.glob(".state/*.json")), "a student was graded"


@linux_only
def test_trust_submissions_grades_anyway_and_says_so(tmp_path):
    klass = make_class(tmp_path / "class", {"ada": PASSES})
    out = tmp_path / "out"
    trusting = ["--jobs", "1", "--trust-submissions", "--seed", "1"]
    done = run(refused("namespaces,landlock", GRADE, "batch", klass, "--out", out, *trusting))
    assert done.returncode == 0, done.stderr
    document = results(out / "results.json")
    assert document["trusted_submissions"] is True
    assert document["students"][0]["score"] == 10.0
    assert "--trust-submissions" in (out / "index.html").read_text(encoding="utf-8")


@linux_only
def test_a_student_grades_with_partial_isolation_and_is_told_in_one_line(tmp_path):
    done = grade_passes_all(tmp_path, "namespaces,landlock")
    assert done.returncode == 0, done.stdout
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "isolation is partial" in notes[0] and "Landlock" in notes[0]


def test_a_second_batch_into_the_same_folder_is_refused(tmp_path):
    klass = make_class(tmp_path / "class", {"ada": PASSES})
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as held_lock:
        held_lock.write("4242")
        held_lock.flush()
        fcntl.flock(held_lock, fcntl.LOCK_EX)
        done = run([GRADE, "batch", klass, "--out", out, "--jobs", "1"])
    assert done.returncode == 2
    assert "another grade batch (pid 4242) is writing to" in done.stderr
    assert not (out / "results.json").exists()


# -- a broken environment is the grader's failure ------------------------------------------
@pytest.fixture(scope="module")
def python_without_torch(tmp_path_factory) -> Path:
    """A venv with the grader and its judge's packages, but no torch: the child cannot start."""
    venv = tmp_path_factory.mktemp("no-torch") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    import tomllib

    wanted = tomllib.loads((COURSE / "pyproject.toml").read_text())["project"]["dependencies"]
    packages = [p for p in wanted if not p.startswith("torch")]
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *packages], check=True, capture_output=True)
    subprocess.run([*pip, "--no-deps", "-e", COURSE], check=True, capture_output=True)
    return venv / "bin" / "grade"


@linux_only
@pytest.mark.once
def test_a_child_that_cannot_import_torch_is_not_a_zero(tmp_path, python_without_torch):
    done = grade_passes_all(tmp_path, grade=python_without_torch)
    assert done.returncode == 2, done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert "grading environment failed" in line and "No module named 'torch'" in line
    assert "not the student's doing" in line
    assert not (tmp_path / "r.json").exists()


@linux_only
@pytest.mark.once
def test_a_batch_stops_at_a_broken_environment_instead_of_zeroing_the_class(
    tmp_path, python_without_torch
):
    klass = make_class(tmp_path / "class", {f"s{i}": PASSES for i in range(3)})
    out = tmp_path / "out"
    done = run([python_without_torch, "batch", klass, "--out", out, "--jobs", "2"])
    assert done.returncode == 2, done.stderr
    assert "No module named 'torch'" in done.stderr
    assert not (out / "results.json").exists()
    assert not list(out.glob(".state/*.json")), "a student was graded"


# -- interrupting a batch ------------------------------------------------------------------
@linux_only
@pytest.mark.once
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "kill-9"])
def test_an_interrupted_batch_prints_no_traceback(tmp_path, how):
    # Each student takes a second: the signal must land while the batch still runs.
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(1)\n" + PASSES.read_text())
    klass = make_class(tmp_path / "class", {f"s{i:02}": slow for i in range(12)})
    out = tmp_path / "out"
    process = subprocess.Popen(
        [GRADE, "batch", klass, "--out", out, "--jobs", "2", "--seed", "1"],
        cwd=COURSE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group, as a shell's foreground job
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((out / ".state").glob("*.json")):
        time.sleep(0.2)
    assert list((out / ".state").glob("*.json")), "no student was graded in time"
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    else:
        process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    # Read to the end: every process that holds the pipes (workers, zygotes) must be gone.
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    if how != "kill-9":
        assert process.returncode == 130 and stderr.rstrip().endswith("grade: interrupted")
    # What was graded is kept: the next run finishes the class with the same seed.
    done = run([GRADE, "batch", klass, "--out", out, "--jobs", "2"])
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "results.json").read_text())["seed"] == 1


def _can_be_pid_1() -> bool:
    """Whether this test run may start a process in a new pid namespace (root, not in a
    container that refuses unshare: .ci/run's container deployment does)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True)
    return probe.returncode == 0


@linux_only
@pytest.mark.skipif(not _can_be_pid_1(), reason="needs root allowed to unshare a pid namespace")
def test_a_grader_that_is_pid_1_of_its_container_still_grades(tmp_path):
    # `docker run course grade ...`: the grader is pid 1, so its child's parent is pid 1 too.
    unshare = ["unshare", "--pid", "--fork", "--mount-proc"]
    done = run(
        unshare
        + refused(
            "namespaces",
            GRADE,
            PASSES,
            "--exercise",
            "01",
            "--seed",
            "1",
            "--html",
            tmp_path / "r.html",
        )
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "total              10/10" in done.stdout


def _zygote_makes_pid_namespaces() -> bool:
    from grader.child import confine

    return sys.platform == "linux" and os.geteuid() == 0 and not confine.namespaces_refused()


@linux_only
@pytest.mark.skipif(not _zygote_makes_pid_namespaces(), reason="needs root with namespaces")
def test_a_submission_costs_one_fork_and_holds_only_its_own_pipes():
    from grader.run.executors import Limits
    from grader.run.executors.warm_fork import ZygoteExecutor

    def open_files(pid: int) -> set[str]:
        return {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}

    executor = ZygoteExecutor()
    try:
        # Two at once, as `grade` with no argument runs them.
        sessions = [executor.start(Limits(timeout=60), time.monotonic() + 60) for _ in range(2)]
        for session in sessions:
            assert session.request({"op": "hello"})["sandbox"]["namespaces"] is True
        assert executor._process is not None
        zygote = executor._process.pid
        children = [
            int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _ppid(pid) == zygote
        ]
        assert len(children) == 2  # no monitor between the zygote and a submission
        for child in children:
            with open(f"/proc/{child}/status") as status:
                ns_pid = next(line for line in status if line.startswith("NSpid:")).split()
            assert ns_pid[-1] == "1"  # pid 1 of its own pid namespace all the same
        # Neither holds the other's pipes, nor the zygote's (a status pipe could be forged).
        first, second = (open_files(child) - {"/dev/null"} for child in children)
        assert not first & second
        assert not (first | second) & open_files(zygote)
        # The zygote reports how each ended: on its own, or killed.
        assert sessions[0].close().returncode == 0
        os.kill(children[1], signal.SIGKILL)
        assert sessions[1].close().returncode == -signal.SIGKILL
    finally:
        executor.close()


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


@linux_only
def test_the_zygote_outlives_the_thread_that_started_it():
    # `grade` judges exercises on threads; the first to start a child also starts the
    # zygote, and ends when the work runs out while the others still grade. A death
    # signal tied to that thread took the zygote, and the running children with it.
    import threading

    from grader.run.executors import Limits
    from grader.run.executors.warm_fork import ZygoteExecutor

    executor = ZygoteExecutor()
    sessions = []
    try:

        def start() -> None:
            session = executor.start(Limits(timeout=60), time.monotonic() + 60)
            assert "sandbox" in session.request({"op": "hello"})
            sessions.append(session)

        first = threading.Thread(target=start)
        first.start()
        first.join()  # the thread that started the zygote is gone
        time.sleep(0.5)
        assert "sandbox" in sessions[0].request({"op": "hello"})  # its child still answers
        start()  # and the zygote still forks
        assert sessions[0].close().returncode == 0
    finally:
        for session in sessions:
            session.close()
        executor.close()
