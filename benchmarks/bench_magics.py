"""Measure what blanking a notebook's magics costs as the cell grows: it must be linear.

A cell of N lines of ``%a`` (a magic on every line) is the worst case of
``strip_magics``: each magic line asks whether it starts a statement. Prints
the seconds for N and 4N lines and their ratio (linear: about 4; the quadratic
re-tokenizing this replaced gave about 16), and the time of a 2 MB cell, the
size cap of a submission.

Run from the course root: python benchmarks/bench_magics.py [--n 4000]
"""

from __future__ import annotations

import argparse
import time

from grader.submission.source import strip_magics


def seconds(lines: int) -> float:
    source = "\n".join(["%a"] * lines)
    started = time.perf_counter()
    strip_magics(source)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="lines of the smaller cell")
    n = parser.parse_args().n
    small, large = seconds(n), seconds(4 * n)
    print(f"{n} magic lines: {small:.3f} s; {4 * n}: {large:.3f} s; ratio {large / small:.1f}")
    print(f"a 2 MB cell ({2 * 1024**2 // 3} lines): {seconds(2 * 1024**2 // 3):.2f} s")


if __name__ == "__main__":
    main()
