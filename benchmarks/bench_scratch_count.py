"""Measure what counting a child's files at each reply costs the judge.

Where a child's scratch folder is on the host's disk, the judge counts the
folder and the deleted files in the child's descriptor table once more when
each reply arrives. Prints, measured in this one run: the time one count takes
for an honest child (a few files in its folder, a Python process's descriptor
table), the time of one request and reply over pipes to a child that answers at
once (the cheapest call a check can make), and their ratio (the share a count
adds to that cheapest call; a real call of the course's checks takes longer).

Run from the course root: python benchmarks/bench_scratch_count.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from grader.run.executors import scratch

_ECHO = """
import sys
for line in sys.stdin:
    sys.stdout.write('{"ok": true}\\n')
    sys.stdout.flush()
"""


def _median_us(work, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        for n in range(5):  # what an honest submission leaves: a handful of files
            with open(os.path.join(folder, f"f{n}"), "wb") as out:
                out.write(b"x" * 4096)
        child = subprocess.Popen(
            [sys.executable, "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert child.stdin is not None and child.stdout is not None
        stdin, stdout = child.stdin, child.stdout

        def count() -> None:
            scratch.held(folder)
            scratch.held_open(child.pid)

        def round_trip() -> None:
            stdin.write(b'{"op": "call"}\n')
            stdin.flush()
            stdout.readline()

        try:
            counted = _median_us(count, rounds)
            trip = _median_us(round_trip, rounds)
        finally:
            stdin.close()
            child.wait()
    print(f"one count (folder + open files), median of {rounds}: {counted:.1f} us")
    print(f"one request and reply over pipes, median of {rounds}: {trip:.1f} us")
    print(f"a count adds {counted / trip:.2f}x the cheapest call's round trip")


if __name__ == "__main__":
    main()
