"""Drive ``grade batch --cluster`` against a real Dask scheduler and workers on 127.0.0.1.

The scheduler and each worker are separate processes (``dask scheduler``,
``dask worker``), as on a grading cluster; they are torn down when the test
ends, even when it fails. Results are compared with a local batch of the
same class and seed (the shared ``graded`` run of test_batch.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import without_intake_table
from test_batch import (
    EXERCISE,
    EXPECTED,
    REPO,
    SOLUTION,
    Run,
    _command,
    _environment,
    build_class,
    load_results,
    run_batch,
)

from grader.run.process import die_with_parent

pytest.importorskip("distributed", reason="grade batch --cluster needs the [cluster] extra")

PRELOAD = Path(__file__).with_name("cluster_preload.py")
# The dask command of this test's own Python: a `dask` found first on PATH may belong to
# another Python, whose workers cannot import the grader and never arrive.
DASK = [sys.executable, "-m", "dask"]


def without_timing(results: dict[str, Any]) -> dict[str, Any]:
    """Drop what depends on how fast the machine was: each exercise's duration."""
    results = json.loads(json.dumps(results))
    for student in results["students"]:
        for exercise in student["exercises"]:
            exercise.pop("duration")
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A scheduler and its workers, each a process of its own."""

    folder: Path
    port: int = field(default_factory=_free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def busy(self) -> Path:
        return self.folder / "busy"

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        # Own session: the teardown ends the whole group (a nanny and its worker).
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,  # a killed test run leaves no scheduler behind
        )
        self.processes.append(process)
        return process

    def start(self, workers: int, delay: float = 0.0) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.busy.mkdir(exist_ok=True)
        env = {
            **os.environ,
            # As docs/cluster.md asks of a grading scheduler: a task that killed two
            # workers is given up, and a worker holds only the task it runs.
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
            "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
            "GRADE_TEST_BUSY": str(self.busy),
            "GRADE_TEST_DELAY": str(delay),
        }
        self._start(
            "scheduler",
            # --no-dashboard still serves health checks on :8787 unless told another port.
            [*DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"]
            + ["--dashboard-address", "127.0.0.1:0"],
            env,
        )
        for number in range(workers):
            self._start(
                f"worker{number}",
                [
                    *DASK,
                    "worker",
                    self.address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(self.folder / f"worker{number}"),
                    "--preload",
                    str(PRELOAD),
                ],
                env,
            )
        self.wait_for_workers(workers)
        return self

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(count, timeout=timeout)

    def stop_scheduler(self) -> None:
        os.killpg(self.processes[0].pid, signal.SIGKILL)

    def stop(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Run]:
    """The class of test_batch.py and a local batch of it: (class folder, OUT, run)."""
    base = tmp_path_factory.mktemp("local")
    folder = build_class(base / "class")
    run = run_batch(folder, base / "out", base / "tmpdir")
    assert run.returncode == 0, run.stderr
    return folder, base / "out", run


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler with two single-threaded workers; everything killed at the end."""
    started = Cluster(tmp_path / "cluster")
    try:
        yield started.start(workers=2)
    finally:
        started.stop()


def _one_line_error(run: Run, words: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = without_intake_table(run.stderr)
    assert lines[-1].startswith("grade: error:"), run.stderr
    assert words in lines[-1], run.stderr
    # Progress lines of students graded before the failure may come first; nothing else.
    assert all(line.startswith(("[", "grade: error:")) for line in lines), run.stderr


# -- the same results as a local batch -------------------------------------------------
def test_cluster_gives_the_same_results_as_a_local_batch(
    graded: tuple[Path, Path, Run], cluster: Cluster, tmp_path: Path
) -> None:
    folder, reference, _ = graded
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--cluster", cluster.address)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"graded {len(EXPECTED)} student(s), kept 0 unchanged")
    assert sorted(run.progress()) == sorted(EXPECTED)
    assert without_timing(load_results(out)) == without_timing(load_results(reference))
    assert sorted(p.name for p in (out / ".state").glob("*.json")) == sorted(
        f"{s}.json" for s in EXPECTED
    )
    for name in ("grades.csv", "index.html"):
        assert (out / name).read_text() == (reference / name).read_text()

    # Resuming works as for a local batch: nothing changed, nothing sent to the cluster.
    again = run_batch(folder, out, tmp_path / "tmpdir", "--cluster", cluster.address)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"graded 0 student(s), kept {len(EXPECTED)} unchanged")


def test_local_cluster_gives_the_same_results(
    graded: tuple[Path, Path, Run], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--cluster", "local")
    assert run.returncode == 0, run.stderr
    assert not [x for x in without_intake_table(run.stderr) if not x.startswith("[")], run.stderr
    assert without_timing(load_results(out)) == without_timing(load_results(reference))


# -- faults -------------------------------------------------------------------------------
def test_a_worker_killed_mid_grade_loses_no_student(
    graded: tuple[Path, Path, Run], tmp_path: Path
) -> None:
    folder, reference, _ = graded
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start(workers=2, delay=1.0)
        out = tmp_path / "out"
        process = _start_batch(folder, out, cluster, tmp_path)
        victim = _wait_for_a_busy_worker(cluster, process)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        cluster.stop()
    assert "Traceback" not in stderr, stderr
    assert process.returncode == 0, stderr
    assert stdout.startswith(f"graded {len(EXPECTED)} student(s)")
    assert without_timing(load_results(out)) == without_timing(load_results(reference))


def _start_batch(
    folder: Path, out: Path, cluster: Cluster, tmp_path: Path
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(folder, out, "--cluster", cluster.address),
        cwd=REPO,
        env=_environment(tmp_path / "tmpdir"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_a_busy_worker(cluster: Cluster, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before a worker could be killed"
        for entry in cluster.busy.iterdir():
            return int(entry.name)
        time.sleep(0.05)
    raise AssertionError("no worker started grading")


def test_a_submission_that_kills_its_worker_twice_ends_error(
    cluster: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "class"
    (folder / "kills_its_worker").mkdir(parents=True)
    shutil.copy(SOLUTION, folder / "kills_its_worker" / f"{EXERCISE}.py")
    (folder / "passes_all").mkdir()
    shutil.copy(SOLUTION, folder / "passes_all" / f"{EXERCISE}.py")
    out = tmp_path / "out"
    run = run_batch(folder, out, tmp_path / "tmpdir", "--cluster", cluster.address)
    assert run.returncode == 0, run.stderr
    students = {s["student"]: s for s in load_results(out)["students"]}
    (killer,) = students["kills_its_worker"]["exercises"]
    assert killer["status"] == "error"
    assert killer["score"] == 0.0
    assert "worker process grading this submission died 2 times" in killer["message"]
    assert killer["error"]["kind"] == "worker_died"
    assert students["passes_all"]["exercises"][0]["status"] == "graded"
    # Not kept as graded: the next run tries the submission again.
    state = json.loads((out / ".state" / "kills_its_worker.json").read_text())
    assert "file_digest" not in state["exercises"][EXERCISE]


def test_a_cluster_that_goes_away_keeps_what_was_graded(
    graded: tuple[Path, Path, Run], tmp_path: Path
) -> None:
    folder, _, _ = graded
    cluster = Cluster(tmp_path / "cluster")
    out = tmp_path / "out"
    try:
        cluster.start(workers=1, delay=1.0)
        process = _start_batch(folder, out, cluster, tmp_path)
        deadline = time.monotonic() + 120
        while not list((out / ".state").glob("*.json")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        cluster.stop_scheduler()
        stdout, stderr = process.communicate(timeout=180)
    finally:
        cluster.stop()
    _one_line_error(Run(process.returncode, stdout, stderr), "lost the Dask cluster")
    kept = list((out / ".state").glob("*.json"))
    assert 1 <= len(kept) < len(EXPECTED)


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    folder = build_class(tmp_path / "class")
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    run = run_batch(folder, out, tmp_path / "tmpdir", "--cluster", address)
    _one_line_error(run, f"cannot reach the Dask scheduler at {address}")
    assert len(without_intake_table(run.stderr)) == 1


def test_grade_does_not_import_dask_without_cluster() -> None:
    code = (
        "import sys; from grader import cli; from grader.drivers import batch; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip() == "[]"
