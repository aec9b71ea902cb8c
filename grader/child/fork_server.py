"""A warm parent for submissions: import torch once, fork a fresh child per submission.

The zygote never runs student code and never loads checks or solutions: it
imports torch and the runner, then waits on its control socket. For each
request it forks a child (new session) that confines itself and runs the
runner; where root may, the child is pid 1 of its own pid namespace from the
fork on (``confine.fork_as_pid_1``), so one fork is all a submission costs.
The zygote reaps its children and writes each one's exit status on the pipe
the judge passed with the request. Once it has served a class's worth, it
gathers its memory into huge pages while idle (``huge_pages``), which makes
every later fork cheaper. Linux and macOS only (it needs fork and SCM_RIGHTS);
other platforms start a fresh child instead.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Iterator


def main(argv: list[str]) -> None:
    """Serve fork requests on the control socket whose fd is ``argv[1]``."""
    control = socket.socket(fileno=int(argv[1]))
    from grader.child.confine import name_process

    # No death signal tied to the judge: the kernel sends it when the judge's *thread*
    # that started us ends, and a grade's threads end one by one while the others
    # still grade (its children, which die with us, went too). The judge's end, the
    # whole process, closes the control socket instead, and we leave on that.
    name_process("grade-zygote")  # for whoever looks at ps (and the benchmarks' roles)
    try:
        import torch  # noqa: F401  -- the whole point: children inherit it already imported

        from grader.child import confine, huge_pages, runner, seccomp

        runner.Runtime()  # warm the runtime's own imports too
        seccomp.available()  # and libseccomp, so children need not look for it
        confine.namespaces_refused()  # asked once here; every child inherits the answer
    except BaseException as exc:  # a broken environment: say so to the judge, not the terminal
        _refuse_forks(control, f"{type(exc).__name__}: {exc}")
        return
    # Every object so far (torch's included) is shared with the children page by page:
    # out of the collector's reach, a child's collection does not copy them all.
    gc.collect()
    gc.freeze()
    children = _Children()
    forks = 0
    collapse: Iterator[int] | None = None
    while True:
        watched = [control.fileno(), *children.handles()]
        # Between forks, and only then: a request never waits for more than one piece.
        while collapse is not None and not select.select(watched, [], [], 0)[0]:
            if next(collapse, None) is None:
                collapse = None
        ready, _, _ = select.select(watched, [], [], children.poll_interval())
        children.report_ended()
        if control.fileno() not in ready:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
        except OSError:
            return
        if not message:
            return  # the judge is gone: so are we
        config = json.loads(message)
        *streams, status = fds
        pid = confine.fork_as_pid_1(config)
        if pid == 0:
            control.close()
            children.close_in_child()
            os.close(status)  # the zygote reports the status, not the submission
            _become_child(config, streams)
        for fd in streams:
            os.close(fd)
        children.add(pid, status)
        forks += 1
        if forks == _COLLAPSE_AFTER:
            collapse = huge_pages.chunks()
        try:
            control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            return  # the judge went away (Ctrl-C, kill): nothing to report to, nothing to print


class _Children:
    """The zygote's running children, and the pipe each one's exit status goes to."""

    def __init__(self) -> None:
        self._running: dict[int, tuple[int | None, int]] = {}  # pid: (pidfd, status fd)

    def add(self, pid: int, status: int) -> None:
        try:
            handle: int | None = os.pidfd_open(pid)  # readable once the child has ended
        except (AttributeError, OSError):
            handle = None
        self._running[pid] = (handle, status)

    def handles(self) -> list[int]:
        return [handle for handle, _ in self._running.values() if handle is not None]

    def poll_interval(self) -> float | None:
        # Without pidfds (macOS, Linux before 5.3) an ended child is found by asking.
        return 0.05 if any(handle is None for handle, _ in self._running.values()) else None

    def report_ended(self) -> None:
        """Write each ended child's status to its pipe: its exit code, or minus its signal."""
        for pid, (_, status) in list(self._running.items()):
            try:
                done, how = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, how = pid, None
            if done == 0:
                continue
            if how is not None:
                code = -os.WTERMSIG(how) if os.WIFSIGNALED(how) else os.WEXITSTATUS(how)
                try:
                    os.write(status, f"{code}\n".encode())
                except OSError:
                    pass  # the judge stopped listening
            self._close(pid)

    def close_in_child(self) -> None:
        """A new child holds no other child's status pipe or handle: it could forge them."""
        for pid in list(self._running):
            self._close(pid)

    def _close(self, pid: int) -> None:
        handle, status = self._running.pop(pid)
        for fd in (handle, status):
            if fd is not None:
                os.close(fd)


# The collapse costs about 0.3 s of CPU and saves about 6 ms per fork: begun once this
# many submissions have been forked (a class, not one student's seven exercises).
_COLLAPSE_AFTER = 16


def _refuse_forks(control: socket.socket, why: str) -> None:
    """Answer every fork request with why this zygote cannot serve, until the judge leaves."""
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
            for fd in fds:
                os.close(fd)
            if not message:
                return
            control.sendall(json.dumps({"error": why[:500]}).encode() + b"\n")
        except OSError:
            return


def _become_child(config: dict, streams: list[int]) -> None:
    from grader.child import confine, runner

    try:
        confine.name_process("grade-child")
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd, target in zip(streams, (0, 1, 2), strict=True):
            os.dup2(fd, target)
            os.close(fd)
        proto_in, proto_out = runner.take_protocol_fds()
        confine.enter(config)
        runtime = runner.Runtime()
        confine.lock(config)
        runner.serve(proto_in, proto_out, runtime)
    except BaseException as exc:  # never fall back into the zygote's loop
        try:
            os.write(2, f"grader: child setup failed: {exc!r}\n".encode())
        finally:
            os._exit(70)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
