"""Run the server on one machine: migrate, start the grading workers, then serve the web.

The workers are separate processes (``grade serve worker``), each with its own
warm zygote. Each asks the sandbox first; the web starts only once every worker
said it is ready, so a machine whose sandbox falls short refuses to serve at all
(unless ``--trust-submissions``). A worker that dies is started again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.serve.database import ServeError

__all__ = ["Workers", "worker_command"]

READY = "grade serve worker: ready"
# A Python started with nothing of the caller's but the environment; the grader this
# module belongs to goes first on its path.
_BOOTSTRAP = "import sys; sys.path.insert(0, {parent!r}); from grader.cli import main; main()"


def worker_command(url: str, course: Path, options: list[str]) -> list[str]:
    """Return the command line of one worker process."""
    parent = str(Path(__file__).resolve().parents[2])
    return [
        sys.executable,
        "-c",
        _BOOTSTRAP.format(parent=parent),
        "serve",
        "worker",
        "--db",
        url,
        "--course",
        str(course),
        "--parent",
        str(os.getpid()),
        *options,
    ]


@dataclass
class Workers:
    """``count`` worker processes, kept running until ``stop``."""

    command: list[str]
    count: int
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def _spawn(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def start(self, timeout: float = 300.0) -> None:
        """Start every worker; return once one is ready, raise ServeError if one refuses first.

        One ready worker has shown that the sandbox holds on this machine (they all
        run the same way): the web opens then, while the others still load torch.
        """
        import queue

        if self.count == 0:
            return  # --jobs 0: the web alone, its workers on other machines
        said: queue.Queue[str] = queue.Queue()
        self.processes = [self._spawn() for _ in range(self.count)]

        def listen(process: subprocess.Popen[str]) -> None:
            assert process.stdout is not None
            said.put(process.stdout.readline())  # the worker's stderr goes to ours as it is
            process.stdout.read()  # then keep its pipe drained

        for process in self.processes:
            threading.Thread(target=listen, args=(process,), daemon=True).start()
        try:
            line = said.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if READY not in line:
            self.stop()
            raise ServeError(
                "a grading worker could not start (its reason is above); nothing was served"
            )
        threading.Thread(target=self._keep_running, name="workers", daemon=True).start()

    def _keep_running(self) -> None:
        refused: set[int] = set()
        while not self._stopping.wait(1.0):
            for number, process in enumerate(self.processes):
                if number in refused or process.poll() is None or self._stopping.is_set():
                    continue
                if process.returncode == 2:
                    # It refused (its one line is above): started again, it would refuse again.
                    print(
                        f"grade serve: worker {process.pid} refused to start; not started again",
                        file=sys.stderr,
                        flush=True,
                    )
                    refused.add(number)
                    continue
                print(
                    f"grade serve: worker {process.pid} ended ({process.returncode}); "
                    "starting another (its job is taken over once its lease runs out)",
                    file=sys.stderr,
                    flush=True,
                )
                self.processes[number] = self._spawn()
                threading.Thread(target=self.processes[number].communicate, daemon=True).start()

    def stop(self) -> None:
        """End every worker (SIGTERM, then SIGKILL after a few seconds)."""
        self._stopping.set()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
