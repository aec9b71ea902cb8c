"""Time a grade with one endless function against the same grade of a correct file.

Target (issue 20): exercise 05 with `accumulated_grad` looping forever ends
within the exercise's timeout plus the start-up a correct grade takes, and
keeps the points of `zeroed_grads` and `zero_grad_` (6/10). The two grades
run interleaved and their medians are compared, because this machine is
shared and noisy. Run from the course root:
python benchmarks/bench_time_limits.py [--rounds 3] [--timeout 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_grade import grade_command

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "solutions" / "05_grad_accumulation" / "solution.py"
HANGS = ROOT / "tests" / "fixtures" / "submissions" / "05_grad_accumulation"
HANGS = HANGS / "infinite_loop_in_accumulated_grad.py"


def grade(file: Path, timeout: float, out: Path) -> tuple[float, float]:
    """Grade ``file`` as exercise 05; return (seconds, score)."""
    argv = [grade_command(), str(file), "--exercise", "05", "--timeout", f"{timeout:g}"]
    argv += ["--seed", "1", "--json", str(out / "r.json"), "--html", str(out / "r.html")]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"bench_time_limits: grade exited {done.returncode}: {done.stderr[-300:]}")
    results = json.loads((out / "r.json").read_text(encoding="utf-8"))
    return elapsed, float(results["students"][0]["score"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    correct: list[float] = []
    hanging: list[float] = []
    scores: set[float] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            correct.append(grade(CORRECT, args.timeout, Path(tmp))[0])
            seconds, score = grade(HANGS, args.timeout, Path(tmp))
            hanging.append(seconds)
            scores.add(score)
    base, hung = statistics.median(correct), statistics.median(hanging)
    bound = args.timeout + base
    print(f"correct 05:            median {base:6.1f} s over {args.rounds} rounds")
    print(f"endless accumulated_grad: median {hung:6.1f} s, score {sorted(scores)} (want [6.0])")
    print(
        f"ratio to timeout + a correct grade ({bound:.1f} s): {hung / bound:.2f} "
        f"(target <= 1): {'ok' if hung <= bound and scores == {6.0} else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
