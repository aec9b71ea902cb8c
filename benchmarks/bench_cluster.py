"""Measure `grade batch --cluster` on a real Dask scheduler and workers on this machine.

Prints, all measured in this one run, on one class (solutions of the chosen
exercises for every student) with one seed:
 (a) throughput with one Dask worker against two (each --nworkers 1
     --nthreads 1; on this 2-core machine the ideal is 2x);
 (b) the cluster path's overhead against a local batch (`--jobs 2`, the
     same two worker processes' worth of cores): wall time of the whole
     command, and the extra time per student;
 (c) the first batch on fresh workers (cold: each starts its warm zygote)
     against the next ones (warm: the zygote is kept across batches).
Every cluster run's results.json must equal the local one's (apart from
durations); the script fails otherwise.

Run from the course root: python benchmarks/bench_cluster.py [--n 20] [--exercises 01,02]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_class(folder: Path, n: int, exercises: list[str]) -> None:
    from grader.course.find import Course

    course = Course.load(ROOT)
    for i in range(n):
        student = folder / f"student{i:03d}"
        student.mkdir(parents=True)
        for ref in exercises:
            exercise = course.exercise(ref)
            shutil.copy(exercise.solution, student / f"{exercise.name}.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }


def batch(folder: Path, out: Path, exercises: str, *extra: str) -> float:
    """Run one `grade batch --force`; return its wall time."""
    grade = shutil.which("grade")
    assert grade, "the grade command is not installed"
    argv = [grade, "batch", str(folder), "--out", str(out), "--exercises", exercises]
    argv += ["--seed", "1", "--force", *extra]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=_environment(), cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench_cluster: grade batch failed:\n{done.stderr}")
    return elapsed


def results(out: Path) -> dict[str, Any]:
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for student in document["students"]:
        for exercise in student["exercises"]:
            exercise.pop("duration")
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="students in the class")
    parser.add_argument("--exercises", default="01,02", help="exercises per student")
    args = parser.parse_args()
    dask = shutil.which("dask")
    if dask is None:
        sys.exit("bench_cluster: needs Dask: pip install -e '.[cluster]'")
    refs = args.exercises.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        folder = tmp / "class"
        make_class(folder, args.n, refs)
        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        log = (tmp / "dask.log").open("wb")

        def start(*argv: str) -> None:
            processes.append(
                subprocess.Popen(
                    [dask, *argv],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_environment(),
                    start_new_session=True,
                )
            )

        worker = ["worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
        start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        start(*worker, "--host", "127.0.0.1")
        wait_for_workers(address, 1)

        local = batch(folder, tmp / "local", args.exercises, "--jobs", "2")
        reference = results(tmp / "local")
        cold_one = batch(folder, tmp / "one-cold", args.exercises, "--cluster", address)
        one = batch(folder, tmp / "one", args.exercises, "--cluster", address)
        start(*worker, "--host", "127.0.0.1")
        wait_for_workers(address, 2)
        batch(folder, tmp / "two-cold", args.exercises, "--cluster", address)  # warms worker 2
        two = batch(folder, tmp / "two", args.exercises, "--cluster", address)
        for name in ("one-cold", "one", "two-cold", "two"):
            if results(tmp / name) != reference:
                sys.exit(f"bench_cluster: {name}'s results differ from the local batch's")

        n = args.n
        print(f"class: {n} students x {len(refs)} exercises ({args.exercises}), seed 1")
        print(f"local batch --jobs 2          {local:6.2f}s")
        print(f"cluster, 1 worker (cold)      {cold_one:6.2f}s")
        print(f"cluster, 1 worker (warm)      {one:6.2f}s  {n / one:5.2f} students/s")
        print(f"cluster, 2 workers (warm)     {two:6.2f}s  {n / two:5.2f} students/s")
        print(f"(a) throughput, 2 workers / 1 worker:          {one / two:.2f}x (ideal 2x)")
        print(f"(b) cluster (2 warm workers) / local --jobs 2: {two / local:.2f}x time")
        print(f"    overhead per student:                      {(two - local) / n * 1000:+.0f} ms")
        print("    (the local batch starts its workers and their zygotes each run; warm")
        print("    cluster workers keep theirs, so (c) is the start-up a local batch pays)")
        print(f"(c) first batch on a fresh worker / warm:      {cold_one / one:.2f}x time")
        print("results.json identical to the local batch's (apart from durations): yes")
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(count, timeout=120)


if __name__ == "__main__":
    main()
