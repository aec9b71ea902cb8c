"""Time ``check("03")`` from a notebook against ``grade 03`` on the same correct solution.

Target (issue: grading from Jupyter): at most 1.2x. ``check`` is called in
this process with a stand-in for IPython's shell whose input history holds
the reference solution split into cells, as a kernel's would; it then runs
the real ``grade`` in a fresh interpreter, exactly as in a kernel. Both are
measured in one run, interleaved, and the medians compared, because this
machine is shared and noisy. Run from the course root:
python benchmarks/bench_notebook.py
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def fake_shell(cells: list[str]) -> SimpleNamespace:
    """Stand in for IPython's shell while the last of ``cells`` (the check) runs."""
    history = ["", *cells]
    return SimpleNamespace(
        history_manager=SimpleNamespace(input_hist_raw=history),
        execution_count=len(cells),
        user_ns={},
    )


def main() -> None:
    grade = shutil.which("grade")
    if grade is None:
        sys.exit("bench_notebook: `grade` is not installed (pip install -e .)")
    sys.path.insert(0, str(ROOT))
    from grader import notebook

    solution = (ROOT / "solutions" / "03_multi_input_grads" / "solution.py").read_text()
    cells = [c for c in re.split(r"\n(?=def )", solution) if c.strip()]
    shell = fake_shell(["from grader.notebook import check", *cells, 'check("03")'])
    notebook._shell = lambda: shell  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".git", "reports", "*.pyc"))
        ex = course / "exercises" / "03_multi_input_grads"
        shutil.copy(
            course / "solutions" / "03_multi_input_grads" / "solution.py", ex / "exercise.py"
        )
        os.chdir(course)  # check() finds the course from the working folder, as in a kernel
        grade_times, check_times = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            done = subprocess.run([grade, "03", "--seed", "1"], capture_output=True, text=True)
            grade_times.append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"bench_notebook: grade 03 exited {done.returncode}: {done.stderr}")
            start = time.perf_counter()
            result = notebook.check("03", seed=1)
            check_times.append(time.perf_counter() - start)
            if result is None or result.score != 10:
                sys.exit(f"bench_notebook: check('03') did not give full marks: {result!r}")
    g, c = statistics.median(grade_times), statistics.median(check_times)
    print(f"grade 03:     median {g:.2f}s over {ROUNDS} runs")
    print(f'check("03"): median {c:.2f}s over {ROUNDS} runs')
    print(f"ratio: {c / g:.2f}x (target <= 1.2x): {'OK' if c / g <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
