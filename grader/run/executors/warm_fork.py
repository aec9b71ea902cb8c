"""Start submissions as forks of a warm zygote that has imported torch already.

Importing torch costs seconds; forking a process that has it costs
milliseconds. The zygote (``grader.child.fork_server``) never runs student code:
each submission runs in a fresh, confined child of it. This executor needs
fork and fd passing (Linux, macOS); ``available()`` says whether to use it,
and callers fall back to ``SandboxExecutor`` (a fresh interpreter per
submission) elsewhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from grader.run.executors.base import Limits
from grader.run.executors.sandboxed import (
    PipeSession,
    SandboxExecutor,
    bootstrap,
    child_environment,
    child_ids,
    make_scratch,
    remove_scratch,
)

__all__ = ["ZygoteExecutor", "warm_executor"]


class _StatusPipe:
    """Read the exit status the zygote writes, once, without blocking the judge forever."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "rb")
        self._done = threading.Event()
        self.code: int | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            line = self._file.readline(64)
            self.code = int(line) if line.strip() else None
        except (OSError, ValueError):
            self.code = None
        finally:
            self._file.close()
            self._done.set()

    def wait(self, timeout: float) -> int | None:
        self._done.wait(timeout)
        return self.code if self._done.is_set() else None


@dataclass
class ZygoteExecutor(SandboxExecutor):
    """Fork each submission from one warm zygote process (started on first use)."""

    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _control: socket.socket | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @staticmethod
    def available() -> bool:
        return hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "win32"

    def _zygote(self) -> socket.socket:
        if self._control is not None and self._process and self._process.poll() is None:
            return self._control
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        program = bootstrap("grader.child.fork_server", self.python())
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-c", program, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=child_environment(),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self._control = ours
        self._replies = ours.makefile("rb")
        return ours

    def start(self, limits: Limits, deadline: float) -> PipeSession:
        try:
            return self._fork(limits, deadline)
        except RuntimeError:
            # A zygote killed from outside (OOM killer, an admin) is replaced once.
            self._restart()
            return self._fork(limits, deadline)

    def _restart(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process.wait()
            if self._control is not None:
                self._replies.close()
                self._control.close()
            self._process, self._control = None, None

    def _fork(self, limits: Limits, deadline: float) -> PipeSession:
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        status_r, status_w = os.pipe()
        theirs = [stdin_r, stdout_w, stderr_w, status_w]
        scratch = make_scratch()
        try:
            with self._lock:
                control = self._zygote()
                config = self.config(limits, scratch)
                socket.send_fds(control, [json.dumps(config).encode()], theirs)
                line = self._replies.readline()
            reply = json.loads(line)
            if "error" in reply:
                raise ValueError(str(reply["error"]))
            pid = int(reply["pid"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            for fd in (stdin_w, stdout_r, stderr_r, status_r):
                os.close(fd)
            remove_scratch(scratch)
            raise RuntimeError(f"the grader's zygote process failed: {exc}") from None
        finally:
            for fd in theirs:
                os.close(fd)
        status = _StatusPipe(status_r)

        def kill() -> None:
            try:
                # The child leads its own session (a monitor, where it needs one, leads
                # it and the sandboxed child is in it): everything it started goes too.
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

        return PipeSession(
            os.fdopen(stdin_w, "wb"),
            os.fdopen(stdout_r, "rb"),
            os.fdopen(stderr_r, "rb"),
            limits,
            deadline,
            kill,
            status.wait,
            cleanup=lambda: remove_scratch(scratch),
            scratch=scratch,
            holder=(pid, child_ids(config)),
        )

    def close(self) -> None:
        """Stop the zygote (its running children are ended by their sessions)."""
        if self._control is not None:
            # The reply reader holds the socket open too: both go, or the zygote never
            # sees the end of its control socket and every close waits out the timeout.
            self._replies.close()
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def warm_executor(hide: list[str]) -> SandboxExecutor:
    """Return the fastest confined executor here: a zygote where fork works, else a fresh child."""
    return ZygoteExecutor(hide=hide) if ZygoteExecutor.available() else SandboxExecutor(hide=hide)
