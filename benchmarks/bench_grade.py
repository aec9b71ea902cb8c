"""Time `grade exercises/03` on a correct solution against `python -c "import torch"`.

Target (issue: the student command): at most 1.5x. Both are measured in the
same run, interleaved, and the medians compared, because this machine is
shared and noisy. Run from the course root: python benchmarks/bench_grade.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 7


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_grade: {' '.join(argv)} exited {done.returncode}: {done.stderr[-300:]}")
    return elapsed


def main() -> None:
    grade = shutil.which("grade")
    if grade is None:
        sys.exit("bench_grade: `grade` is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory() as tmp:
        # A course copy whose exercise 03 holds the reference solution.
        course = Path(tmp) / "course"
        shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", "reports", "*.pyc"))
        ex = course / "exercises" / "03_multi_input_grads"
        shutil.copy(
            course / "solutions" / "03_multi_input_grads" / "solution.py", ex / "exercise.py"
        )
        html = Path(tmp) / "r.html"
        torch_times, grade_times = [], []
        for _ in range(ROUNDS):
            torch_times.append(timed([sys.executable, "-c", "import torch"], course))
            grade_times.append(
                timed([grade, "exercises/03", "--seed", "1", "--html", str(html)], course)
            )
    t, g = statistics.median(torch_times), statistics.median(grade_times)
    print(f"python -c 'import torch': median {t:.2f}s over {ROUNDS} runs")
    print(f"grade exercises/03:        median {g:.2f}s over {ROUNDS} runs")
    print(f"ratio: {g / t:.2f}x (target <= 1.5x): {'OK' if g / t <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
