"""Start each submission in a fresh, confined child process and talk to it over pipes.

``SandboxExecutor`` runs ``python -I -m grader.child.runner`` with the
grader's own packages and nothing else of ours, confined before any student
code runs (``grader.child.confine``), and exchanges JSON lines with it
(``grader.child.wire``). ``PipeSession`` is the pipe end of one child; the
warm-fork executor (``grader.run.executors.warm_fork``) reuses it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grader
from grader.child import wire
from grader.run.executors.base import (
    ChildGone,
    Ending,
    Limits,
    ProtocolFault,
    ScratchFull,
    Timeout,
)
from grader.run.executors.pipes import Replies, send
from grader.run.executors.scratch import (
    MOST_ENTRIES,
    held,
    held_open,
    make_scratch,
    remove_scratch,
)

__all__ = [
    "SandboxExecutor",
    "PipeSession",
    "python_folders",
    "bootstrap",
    "child_environment",
    "make_scratch",
    "remove_scratch",
]

# What a scratch folder on the host may hold: half the memory limit, the share the
# child's private /tmp gets where a mount namespace sizes it (grader.child.confine),
# counted this often while the child runs.
SCRATCH_SHARE = 2
SCRATCH_EVERY = 0.25

# The grader package: the child imports grader.child from it, wherever it sits.
_GRADER = os.path.dirname(os.path.abspath(grader.__file__))


class _OutputSink:
    """Drain the child's output, keeping the first ``limit`` bytes.

    Draining everything keeps a flooding child from blocking on a full pipe;
    only the kept part costs memory.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self.kept = bytearray()
        self.dropped = 0
        self._limit = limit
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            room = self._limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
            self.dropped += max(0, len(chunk) - max(room, 0))

    def finish(self, wait: float) -> tuple[str, int]:
        self._thread.join(wait)
        return self.kept.decode("utf-8", errors="replace"), self.dropped


class PipeSession:
    """A submission in a child process, spoken to over pipes: requests in, replies out.

    ``kill`` ends the child and everything it started; ``wait`` returns its
    exit status (negative for a signal), or None when it cannot be known.
    """

    def __init__(
        self,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        limits: Limits,
        deadline: float,
        kill: Callable[[], None],
        wait: Callable[[float], int | None],
        cleanup: Callable[[], None] = lambda: None,
        scratch: str = "",
        holder: tuple[int, tuple[int, int] | None] | None = None,
    ) -> None:
        self.stdin = stdin
        self._cleanup = cleanup
        self.deadline = deadline
        self._kill = kill
        self._wait = wait
        self._streams = (stdout, stderr)
        self._replies = Replies(stdout)
        self._sink = _OutputSink(stderr, limits.output)
        self._ended: Ending | None = None
        self._full = ""  # why the scratch watch ended the child, if it did
        self._done = threading.Event()
        # The pid of a child whose scratch folder is on the host's disk, and the ids it
        # becomes: the deleted files it holds open count too, once it is confined.
        self._holder = holder
        self._confined = False
        self._scratch = (scratch, limits.memory // SCRATCH_SHARE) if scratch else None
        if self._scratch:
            threading.Thread(
                target=self._watch_scratch,
                args=self._scratch,
                name="scratch",
                daemon=True,
            ).start()

    def _watch_scratch(self, scratch: str, most: int) -> None:
        """End the child once its scratch folder holds more than ``most`` bytes.

        Where the child writes on the host's file system (no mount namespace gives
        it a tmpfs of a bounded size), files are memory or disk that RLIMIT_AS never
        counts; RLIMIT_FSIZE bounds one file, this the folder.
        """
        while not self._done.wait(SCRATCH_EVERY):
            self._full = self._over(scratch, most)
            if self._full:
                self._kill()
                return

    def _over(self, scratch: str, most: int) -> str:
        """Say how the child holds more than ``most`` bytes in files; "" if it does not."""
        size = held(scratch)
        if size is None:
            return (
                f"made more than {MOST_ENTRIES:,} files, or a folder the grader "
                "cannot read, in its scratch folder"
            )
        if self._holder is not None and self._confined:
            hidden = held_open(*self._holder)
            if hidden is None:
                return "hid the files it holds open from the grader"
            size += hidden
        if size > most:
            return f"held more than {most // 1024**2} MiB in files (half its memory limit)"
        return ""

    def _gone(self, returncode: int | None) -> ChildGone:
        return ScratchFull(self._full, returncode) if self._full else ChildGone(returncode)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._ended is not None:
            raise self._gone(self._ended.returncode)
        try:
            # Neither end blocks past the deadline: a child that stops reading its
            # requests, or writes replies without end, costs its own time only.
            send(self.stdin, json.dumps(message).encode("utf-8") + b"\n", self.deadline)
            line = self._replies.line(self.deadline)
        except Timeout:
            returncode = self._stop().returncode
            if self._full:
                raise self._gone(returncode) from None
            raise
        except ProtocolFault as fault:
            raise self._fault(fault.what) from None
        if line is None or not line.endswith(b"\n"):
            raise self._gone(self._stop().returncode)
        if self._scratch and not self._full:
            # Counted once more before the answer is judged: a fast writer that filled
            # its files between two of the watch's counts is ended all the same.
            self._full = self._over(*self._scratch)
        if self._full:
            self._kill()
            raise self._gone(self._stop().returncode)
        # Each value costs the judge's memory many times its bytes once parsed: count first.
        if wire.items(line) > wire.MAX_ITEMS:
            raise self._fault(f"it sent a reply of over {wire.MAX_ITEMS:,} values")
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: a reply nested 5000 deep
            reply = None
        if not isinstance(reply, dict):
            raise self._fault("it sent a reply that is not a JSON object")
        if self._holder is not None and not self._confined:
            self._confine(reply)
        return reply

    def _confine(self, hello: dict[str, Any]) -> None:
        """Count the child's open files from its hello on, where they need counting.

        The hello comes once the child is confined and before any student code ran,
        so a table the judge cannot read now is this machine's doing (exit 2), and
        the hello is still the child's own word on its namespaces.
        """
        box = hello.get("sandbox")
        if isinstance(box, dict) and box.get("namespaces") is True:
            self._holder = None  # a tmpfs of a bounded size holds its deleted files
            return
        assert self._holder is not None
        if held_open(*self._holder) is None:
            self._stop()
            raise ChildGone(
                None,
                f"the grader cannot read /proc/{self._holder[0]}/fd to count the files "
                "the submission's process holds open",
            )
        self._confined = True

    def _fault(self, what: str) -> ProtocolFault:
        """End the child that broke the protocol; return the fault to raise."""
        return ProtocolFault(what, self._stop().returncode)

    def close(self) -> Ending:
        return self._stop()

    def _stop(self) -> Ending:
        if self._ended is not None:
            return self._ended
        try:
            self.stdin.close()
        except OSError:
            pass
        self._done.set()
        returncode = self._wait(0.5)  # a child that ended on its own keeps its own status
        self._kill()
        if returncode is None:
            returncode = self._wait(5.0)
        output, dropped = self._sink.finish(wait=2.0)
        for stream in self._streams:
            stream.close()
        self._cleanup()
        self._ended = Ending(output=output, dropped=dropped, returncode=returncode)
        return self._ended


def _popen_session(
    process: subprocess.Popen[bytes],
    limits: Limits,
    deadline: float,
    scratch: str,
    owner: tuple[int, int] | None,
) -> PipeSession:
    def kill() -> None:
        try:
            if sys.platform == "win32":
                process.kill()
            else:
                # The whole process group: children the submission forked go too.
                os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass

    def wait(timeout: float) -> int | None:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    return PipeSession(
        process.stdin,
        process.stdout,
        process.stderr,
        limits,
        deadline,
        kill,
        wait,
        cleanup=lambda: remove_scratch(scratch),
        scratch=scratch,
        holder=(process.pid, owner),
    )


def child_ids(config: dict[str, Any]) -> tuple[int, int] | None:
    """Return the uid and gid the child becomes (where the judge is root), or None."""
    uid = config.get("uid")
    return (uid, config.get("gid", uid)) if uid is not None else None


def python_folders(hidden: list[str]) -> list[str]:
    """Return the folders of this Python: the child reads them, and nothing else of ours.

    Wherever the installation lives (a venv under /tmp or inside the course,
    ``pip install --user``, conda, pyenv, the system Python), the child must
    see the very packages the grader sees, or a correct submission fails to
    import torch and a student is charged for the grader's environment. A
    folder that holds a hidden one (a course root on PYTHONPATH) is left out.
    """
    import site

    folders = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    folders += site.getsitepackages()
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    folders += [p for p in sys.path if p and os.path.isabs(p)]
    secret = [os.path.realpath(h) for h in hidden]
    kept: list[str] = []
    for folder in folders:
        for path in dict.fromkeys([os.path.abspath(folder), os.path.realpath(folder)]):
            if not os.path.isdir(path) or path in kept:
                continue
            if any(s == path or s.startswith(path.rstrip(os.sep) + os.sep) for s in secret):
                continue
            kept.append(path)
    return kept


def bootstrap(module: str, python: list[str]) -> str:
    """Return the ``python -I -c`` program that starts ``module`` with the grader's packages.

    -I keeps the student's PYTHON* variables and the current folder out; the
    grader's own folder and its Python's site folders (user site included,
    with their .pth files) are put back explicitly.
    """
    return (
        "import site, sys\n"
        f"sys.path.insert(0, {_grader_parent()!r})\n"
        f"for folder in {python!r}:\n"
        "    if folder not in sys.path:\n"
        "        site.addsitedir(folder)\n"
        f"from {module} import main\n"
        "main(sys.argv)\n"
    )


def child_environment() -> dict[str, str]:
    """Return the environment the child starts with: the grader's secrets stay out."""
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TEMP", "TMP", "HOME", "USERPROFILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # One thread per child: a batch runs one child per core already.
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
    )
    return env


def simulated_landlock_abi() -> int | None:
    """Return the Landlock ABI the tests ask the children to stop at, or None for all of it.

    ``GRADER_TEST_LANDLOCK_ABI=4`` grades as on a kernel of Landlock ABI 4
    (no signal scoping), where the other layers must close what Landlock
    leaves open. It can only take a layer's parts away, never add one, and
    the sandbox report names the ABI used.
    """
    value = os.environ.get("GRADER_TEST_LANDLOCK_ABI", "")
    return int(value) if value.isdigit() else None


_children = itertools.count()
UID_BASE = 1_500_000_000


def sandbox_uid() -> int | None:
    """Return a uid no other process uses, for the child to become when the grader is root.

    Unique per child (this process's pid and a counter), so one student's
    child can neither signal nor read the files of another's, and fork
    limits count its processes alone.
    """
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    return UID_BASE + (os.getpid() % (1 << 22)) * 64 + next(_children) % 64


@dataclass
class SandboxExecutor:
    """Start each submission in a fresh, confined ``python -m grader.child.runner``."""

    hide: list[str] = field(default_factory=list)
    namespaces: bool = True

    def config(self, limits: Limits, scratch: str) -> dict[str, Any]:
        uid = sandbox_uid()
        return {
            "hide": self.hide,
            # The child imports grader.child from here, even when it sits in the course root.
            "expose": [_GRADER],
            "python": self.python(),
            "scratch": scratch,
            "uid": uid,
            "gid": uid,
            "memory": limits.memory,
            "namespaces": self.namespaces,
            "landlock_abi": simulated_landlock_abi(),
        }

    def python(self) -> list[str]:
        if not hasattr(self, "_python"):
            self._python = python_folders(self.hide)
        return self._python

    def start(self, limits: Limits, deadline: float) -> PipeSession:
        scratch = make_scratch()
        program = bootstrap("grader.child.runner", self.python())
        config = self.config(limits, scratch)
        argv = [sys.executable, "-I", "-c", program, json.dumps(config)]
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_environment(),
                cwd=_grader_parent(),
                **kwargs,
            )
        except OSError:
            remove_scratch(scratch)
            raise
        return _popen_session(process, limits, deadline, scratch, child_ids(config))

    def close(self) -> None:
        """Hold nothing: each child ends with its session."""


def _grader_parent() -> str:
    return os.path.dirname(_GRADER)
