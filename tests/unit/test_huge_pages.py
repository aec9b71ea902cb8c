"""The zygote gathers its private memory into huge pages, so each fork copies less."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

import pytest

from grader.child import fork_server, huge_pages


def _collapse_supported() -> bool:
    if sys.platform != "linux" or not os.path.isdir("/sys/kernel/mm/transparent_hugepage"):
        return False
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    return (major, minor) >= (6, 1)  # MADV_COLLAPSE


needs_collapse = pytest.mark.skipif(
    not _collapse_supported(), reason="needs Linux 6.1+ with transparent huge pages"
)


def _anon_huge_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


@needs_collapse
def test_private_memory_is_gathered_into_huge_pages():
    program = (
        "import sys\n"
        "from grader.child import huge_pages\n"
        "from tests.unit.test_huge_pages import _anon_huge_kib\n"
        "memory = bytearray(b'x' * (64 << 20))  # touched: 16,384 small pages\n"
        "before = _anon_huge_kib()\n"
        "steps = sum(1 for _ in huge_pages.chunks())\n"
        "print(before, _anon_huge_kib(), steps)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=root, check=True
    )
    before, after, steps = (int(x) for x in done.stdout.split())
    assert after - before >= 48 << 10, done.stdout  # most of the 64 MiB, in 2 MiB pages
    assert steps >= 16  # a piece at a time (4 MiB each), never all at once


def test_elsewhere_it_changes_nothing(monkeypatch):
    monkeypatch.setattr(huge_pages.sys, "platform", "darwin")
    assert list(huge_pages.chunks()) == []


@needs_collapse
def test_the_zygote_collapses_its_memory_once_it_serves_a_class(tmp_path):
    # The zygote imports torch before it forks: where torch is absent there is none.
    pytest.importorskip("torch")
    from grader.run.executors import Limits
    from grader.run.executors.warm_fork import ZygoteExecutor

    executor = ZygoteExecutor()
    try:

        def fork_one() -> None:
            session = executor.start(Limits(timeout=60), time.monotonic() + 60)
            assert "sandbox" in session.request({"op": "hello"})
            session.close()

        for _ in range(fork_server._COLLAPSE_AFTER - 1):  # one student's seven: not worth it
            fork_one()
        assert executor._process is not None
        time.sleep(1.0)
        assert _anon_huge_kib(executor._process.pid) < 32 << 10
        fork_one()  # a class's worth: now it is
        deadline = time.monotonic() + 30
        while _anon_huge_kib(executor._process.pid) < 32 << 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _anon_huge_kib(executor._process.pid) >= 32 << 10
        # And it still forks, with its memory rearranged under it.
        session = executor.start(Limits(timeout=60), time.monotonic() + 60)
        assert "sandbox" in session.request({"op": "hello"})
        session.close()
    finally:
        executor.close()
