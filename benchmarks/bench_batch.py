"""Measure `grade batch` against a naive grader and against the no-isolation floor.

Prints, all measured in this one run on this machine:
 (a) batch time for N=100 students (all seven exercises each) against a fresh
     `python -m pytest` process per student and exercise (target: batch at
     least 15x faster). The naive grader is timed on a sample of students and
     scaled to N linearly (it is one independent process per unit of work);
     --baseline-sample sets the sample size.
 (b) the batch's wall time per student against the floor: the same checks on
     the reference solutions in one process with no isolation at all (the
     in-process executor), per student (target: at most 2x).
 (c) peak resident memory of any one process for N=20 and N=200 (target: the
     N=200 peak within 20% of the N=20 peak), sampled over the batch's whole
     process tree (Linux /proc).

Run from the course root: python benchmarks/bench_batch.py [--n 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_class(folder: Path, n: int) -> None:
    from grader.course import Course

    course = Course.load(ROOT)
    for i in range(n):
        student = folder / f"student{i:03d}"
        student.mkdir(parents=True)
        for exercise in course.exercises:
            shutil.copy(exercise.solution, student / f"{exercise.name}.py")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _role(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "grader.child.fork_server" in cmdline:
        return "zygote"
    if "multiprocessing" in cmdline:
        return "judge worker"
    if "grade batch" in cmdline or cmdline.rstrip().endswith("--force"):
        return "batch parent"
    return "sandboxed child"


def batch(folder: Path, out: Path, jobs: int) -> tuple[float, int, dict[str, int]]:
    """Run grade batch; return seconds and the peak RSS (KiB) of any one process in its tree.

    The tree (batch parent, workers, zygotes, sandboxed children) is sampled
    every 50 ms; VmHWM is each process's own high-water mark, so a sample
    late in a process's life still sees its peak.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            shutil.which("grade") or "grade",
            "batch",
            str(folder),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--seed",
            "1",
            "--force",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    peak = 0
    roles: dict[str, int] = {}
    while process.poll() is None:
        for pid in _descendants(process.pid):
            rss = _peak_rss_kib(pid)
            peak = max(peak, rss)
            role = _role(pid)
            roles[role] = max(roles.get(role, 0), rss)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if process.returncode:
        assert process.stderr is not None
        sys.exit(f"bench_batch: grade batch failed: {process.stderr.read()[-500:]!r}")
    return seconds, peak, roles


def naive(folder: Path, sample: int) -> float:
    """Seconds for the naive grader over the first ``sample`` students."""
    from grader.course import Course

    course = Course.load(ROOT)
    env = dict(
        os.environ,
        PYTHONPATH=f"{ROOT / 'benchmarks'}{os.pathsep}{ROOT}",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    start = time.perf_counter()
    for student in sorted(folder.iterdir())[:sample]:
        for exercise in course.exercises:
            env["STUDENT_FILE"] = str(student / f"{exercise.name}.py")
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "naive_plugin",
                    "-c",
                    os.devnull,
                    "--rootdir",
                    str(exercise.checks),
                    "-p",
                    "no:cacheprovider",
                    str(exercise.checks),
                ],
                env=env,
                capture_output=True,
                check=False,
            )
    return time.perf_counter() - start


def floor(students: int) -> float:
    """Seconds per student for the checks on the reference solutions, in-process."""
    from grader.course import Course
    from grader.executor import InProcessExecutor, Limits
    from grader.grade import Settings, grade_exercise
    from grader.locale import Locale

    course = Course.load(ROOT)
    settings = Settings(seed=1, limits=Limits(timeout=600))
    locale = Locale(course.templates)
    executor = InProcessExecutor()
    grade_exercise(
        course, course.exercises[0], course.exercises[0].solution, executor, settings, locale
    )  # warm: torch and pytest imported before timing
    start = time.perf_counter()
    for _ in range(students):
        for exercise in course.exercises:
            result = grade_exercise(course, exercise, exercise.solution, executor, settings, locale)
            assert result["score"] == result["max_score"], (exercise.name, result["checks"])
    return (time.perf_counter() - start) / students


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--baseline-sample", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-n", default="20,200")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        make_class(tmp_path / f"class{args.n}", args.n)
        seconds, _, _ = batch(tmp_path / f"class{args.n}", tmp_path / "out", args.jobs)
        sample = min(args.baseline_sample, args.n)
        naive_seconds = naive(tmp_path / f"class{args.n}", sample) * args.n / sample
        ratio = naive_seconds / seconds
        print(
            f"(a) N={args.n}: grade batch --jobs {args.jobs} {seconds:.1f}s; naive pytest "
            f"per student x exercise {naive_seconds:.1f}s (timed on {sample} students, "
            f"scaled); speed-up {ratio:.1f}x (target >= 15x): "
            f"{'OK' if ratio >= 15 else 'MISSED'}"
        )
        per_student = seconds / args.n
        floor_seconds = floor(min(args.n, 10))
        ratio_b = per_student / floor_seconds
        print(
            f"(b) batch {per_student * 1000:.0f} ms per student vs floor (in-process, no "
            f"isolation) {floor_seconds * 1000:.0f} ms: {ratio_b:.2f}x (target <= 2x): "
            f"{'OK' if ratio_b <= 2 else 'MISSED'}"
        )
        peaks = []
        for n in (int(x) for x in args.memory_n.split(",")):
            make_class(tmp_path / f"mem{n}", n)
            _, rss, roles = batch(tmp_path / f"mem{n}", tmp_path / f"memout{n}", args.jobs)
            peaks.append((n, rss))
            by_role = ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(roles.items()) if v)
            print(f"(c) N={n}: peak RSS of any one process {rss / 1024:.0f} MiB ({by_role})")
        (n0, r0), (n1, r1) = peaks[0], peaks[-1]
        growth = (r1 - r0) / r0
        print(
            f"(c) growth from N={n0} to N={n1}: {growth * 100:+.1f}% (target <= +20%): "
            f"{'OK' if growth <= 0.2 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
