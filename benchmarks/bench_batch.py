"""Measure `grade batch` against a naive grader, the no-isolation floor and the class size.

Prints, all measured in this one run on this machine (the goals of issue 10):
 (a) batch wall time for N=100 students (all seven exercises each, reference
     solutions) with --jobs 2 (target: at most 55 s), against a fresh
     `python -m pytest` process per student and exercise (target: batch at
     least 30x faster). The naive grader is timed on a sample of students and
     scaled to N linearly (it is one independent process per unit of work);
     --baseline-sample sets the sample size.
 (b) per core, the batch's time per student (wall x jobs / N) against the
     floor: the same checks on the reference solutions in one process with no
     isolation at all (the in-process executor), per student (target: at most
     1.3x); and the floor against the time the reference solutions' own calls
     take inside it (target: at most 2x).
 (c) how the cost grows: N = 10, 100 and 1000 students (1000 with one
     exercise), --jobs 1 and 2; wall seconds, milliseconds per student and
     exercise, and the peak resident memory of any one process by role,
     sampled over the batch's whole process tree (Linux /proc; target: flat
     in N, the largest N within 20% of the smallest).

Run from the course root: python benchmarks/bench_batch.py [--n 100]
(--sizes 10,100 --jobs-list 1 for a shorter table.)
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_class(folder: Path, n: int, only: str | None = None) -> None:
    """Write ``n`` students who hand in the reference solutions (of exercise ``only``)."""
    from grader.course.find import Course

    course = Course.load(ROOT)
    exercises = [course.exercise(only)] if only else course.exercises
    for i in range(n):
        student = folder / f"student{i:04d}"
        student.mkdir(parents=True)
        for exercise in exercises:
            shutil.copy(exercise.solution, student / f"{exercise.name}.py")


def _descendants(root: int) -> dict[int, int]:
    """Map every process in ``root``'s tree to its parent."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = {root: 0}, [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found[child] = pid
            todo.append(child)
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


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


_NAMED = {
    "grade-worker": "judge worker",
    "grade-reports": "report renderer",
    "grade-zygote": "zygote",
    "grade-child": "sandboxed child",
    "grade-probe": "probe",
}


def _role(pid: int) -> str:
    """The role of a process of the batch's tree: the grader names its own (``ps`` shows it)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        return "gone"
    if comm in _NAMED:
        return _NAMED[comm]
    return "batch parent" if _cmdline(pid) else "gone"


def batch(
    folder: Path, out: Path, jobs: int, only: str | None = None
) -> tuple[float, int, dict[str, int]]:
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
            *(["--exercises", only] if only else []),
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
    from grader.course.find import Course

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


class _OwnCalls:
    """Add up the time spent inside the submission's own functions (outermost calls only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return timed


def floor(students: int) -> tuple[float, float]:
    """Seconds per student for the checks on the reference solutions, in-process, and
    the seconds per student spent inside the solutions' own functions."""
    from grader.course.find import Course
    from grader.engine.exercise import Settings, grade_exercise
    from grader.run.executors import Limits
    from grader.run.executors.in_process import InProcessExecutor, InProcessSession

    own = _OwnCalls()

    class TimedSession(InProcessSession):
        def request(self, message: dict[str, Any]) -> dict[str, Any]:
            reply = super().request(message)
            module = self.runtime.module
            if message.get("op") == "load" and module is not None:
                for name, value in list(vars(module).items()):
                    if (
                        callable(value)
                        and not name.startswith("__")
                        and not isinstance(value, type)
                    ):
                        setattr(module, name, own.wrap(value))
            return reply

    class TimedExecutor(InProcessExecutor):
        def start(self, limits: Limits, deadline: float) -> InProcessSession:
            return TimedSession(deadline)

    course = Course.load(ROOT)
    settings = Settings(seed=1, limits=Limits(timeout=600))
    executor = TimedExecutor()
    for exercise in course.exercises:  # warm: torch, pytest and every exercise's checks
        grade_exercise(course, exercise, exercise.solution, executor, settings)
    own.seconds = 0.0
    start = time.perf_counter()
    for _ in range(students):
        for exercise in course.exercises:
            result = grade_exercise(course, exercise, exercise.solution, executor, settings)
            assert result["score"] == result["max_score"], (exercise.name, result["checks"])
    return (time.perf_counter() - start) / students, own.seconds / students


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def growth_table(tmp_path: Path, sizes: list[int], jobs_list: list[int]) -> None:
    """Print (c): wall time and peak memory per process for each class size and --jobs."""
    from grader.course.find import Course

    exercises = len(Course.load(ROOT).exercises)
    peaks: dict[tuple[int, int], dict[str, int]] = {}
    print("(c)     N  exercises  jobs   wall s  ms/student-exercise  peak MiB by role")
    for n in sizes:
        only = "01" if n >= 1000 else None  # the largest class: one exercise is enough
        folder = tmp_path / f"grow{n}"
        make_class(folder, n, only)
        for jobs in jobs_list:
            seconds, _, roles = batch(folder, tmp_path / f"grow{n}-{jobs}", jobs, only)
            roles.pop("gone", None)  # ended between the listing and the reading
            peaks[n, jobs] = roles
            count = 1 if only else exercises
            by_role = ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(roles.items()) if v)
            print(
                f"(c) {n:5d}  {count:9d}  {jobs:4d}  {seconds:7.1f}  "
                f"{seconds / (n * count) * 1000:19.1f}  {by_role}"
            )
    small, large = min(sizes), max(sizes)
    if small == large:
        print("(c) memory growth: needs two class sizes (--sizes 10,100)")
        return
    for jobs in jobs_list:
        for role in sorted(peaks[small, jobs]):
            if role not in peaks[large, jobs] or not peaks[small, jobs][role]:
                continue  # a role not measured at one of the sizes has no growth to show
            before, after = peaks[small, jobs][role], peaks[large, jobs][role]
            growth = (after - before) / before
            print(
                f"(c) --jobs {jobs}, peak memory of one {role}: N={small} {before / 1024:.0f} MiB, "
                f"N={large} {after / 1024:.0f} MiB, {growth * 100:+.1f}% (target <= +20%): "
                f"{_verdict(growth <= 0.2)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--baseline-sample", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--jobs-list", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        make_class(tmp_path / f"class{args.n}", args.n)
        seconds, _, _ = batch(tmp_path / f"class{args.n}", tmp_path / "out", args.jobs)
        sample = min(args.baseline_sample, args.n)
        naive_seconds = naive(tmp_path / f"class{args.n}", sample) * args.n / sample
        ratio = naive_seconds / seconds
        print(
            f"(a) N={args.n}: grade batch --jobs {args.jobs} {seconds:.1f}s (target <= 55 s "
            f"for N=100, jobs 2): {_verdict(seconds <= 55 * args.n / 100)}"
        )
        print(
            f"(a) naive pytest per student x exercise {naive_seconds:.1f}s (timed on {sample} "
            f"students, scaled); speed-up {ratio:.1f}x (target >= 30x): {_verdict(ratio >= 30)}"
        )
        per_core = seconds * args.jobs / args.n
        floor_seconds, own_seconds = floor(min(args.n, 10))
        ratio_b = per_core / floor_seconds
        print(
            f"(b) batch per core {per_core * 1000:.0f} ms per student vs floor (in-process, no "
            f"isolation) {floor_seconds * 1000:.0f} ms: {ratio_b:.2f}x (target <= 1.3x): "
            f"{_verdict(ratio_b <= 1.3)}"
        )
        ratio_own = floor_seconds / own_seconds
        print(
            f"(b) floor {floor_seconds * 1000:.0f} ms vs the reference solutions' own calls "
            f"{own_seconds * 1000:.0f} ms per student: {ratio_own:.2f}x (target <= 2x): "
            f"{_verdict(ratio_own <= 2)}"
        )
        sizes = [int(x) for x in args.sizes.split(",")]
        growth_table(tmp_path, sizes, [int(x) for x in args.jobs_list.split(",")])


if __name__ == "__main__":
    main()
