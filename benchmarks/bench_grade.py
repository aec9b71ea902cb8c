"""Time the student command against `python -c "import torch"`.

Targets (issue 10): `grade exercises/03` on a correct solution at most 1.2x,
`grade` with no argument (all seven exercises, correct) at most 2x. Each pair
is measured in the same run, interleaved, and the medians compared, because
this machine is shared and noisy. Both commands run from the Python's own
script folder (a pyenv shim would add its own start-up to one side only).
Run from the course root: python benchmarks/bench_grade.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_grade: {' '.join(argv)} exited {done.returncode}: {done.stderr[-300:]}")
    return elapsed


def grade_command() -> str:
    """Return the `grade` script of this Python (not a shim that finds it first)."""
    own = Path(sysconfig.get_path("scripts")) / "grade"
    found = str(own) if own.exists() else shutil.which("grade")
    if found is None:
        sys.exit("bench_grade: `grade` is not installed (pip install -e .)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    grade = grade_command()
    with tempfile.TemporaryDirectory() as tmp:
        # A course copy whose every exercise holds the reference solution.
        course = Path(tmp) / "course"
        shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", "reports", "*.pyc"))
        for solution in sorted((course / "solutions").glob("*/solution.py")):
            shutil.copy(solution, course / "exercises" / solution.parent.name / "exercise.py")
        report = ["--seed", "1", "--html", str(Path(tmp) / "r.html")]
        commands = {
            "grade exercises/03": ([grade, "exercises/03", *report], 1.2),
            "grade (all seven)": ([grade, *report], 2.0),
        }
        torch_times: list[float] = []
        grade_times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (argv, _) in commands.items():
                torch_times.append(timed([sys.executable, "-c", "import torch"], course))
                grade_times[name].append(timed(argv, course))
    t = statistics.median(torch_times)
    print(f"python -c 'import torch': median {t:.2f}s over {len(torch_times)} runs")
    for name, (_, target) in commands.items():
        g = statistics.median(grade_times[name])
        verdict = "OK" if g / t <= target else "MISSED"
        print(
            f"{name:19s} median {g:.2f}s over {args.rounds} runs: {g / t:.2f}x "
            f"(target <= {target}x): {verdict}"
        )


if __name__ == "__main__":
    main()
