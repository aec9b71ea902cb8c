"""A warm parent for submissions: import torch once, fork a fresh child per submission.

The zygote never runs student code and never loads checks or solutions: it
imports torch and the runner, then waits on its control socket. For each
request it forks a monitor (new session) that confines and starts the runner
and reports the runner's exit status on a status pipe. While idle it gathers
its memory into huge pages (``huge_pages``), which makes every fork cheaper. Linux and macOS only
(it needs fork and SCM_RIGHTS); other platforms start a fresh child instead.
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
    from grader.child.confine import die_with_parent

    die_with_parent()  # with the judge
    try:
        import torch  # noqa: F401  -- the whole point: children inherit it already imported

        from grader.child import confine, huge_pages, runner, seccomp

        runner.Runtime()  # warm the runtime's own imports too
        seccomp.available()  # and libseccomp, so children need not look for it
        confine.namespaces_refused()  # asked once here; every child inherits the answer
    except BaseException as exc:  # a broken environment: say so to the judge, not the terminal
        _refuse_forks(control, f"{type(exc).__name__}: {exc}")
        return
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    # Every object so far (torch's included) is shared with the children page by page:
    # out of the collector's reach, a child's collection does not copy them all.
    gc.collect()
    gc.freeze()
    collapse: Iterator[int] | None = huge_pages.chunks()
    while True:
        # Between forks, and only then: a request never waits for more than one piece.
        while collapse is not None and not select.select([control], [], [], 0)[0]:
            if next(collapse, None) is None:
                collapse = None
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
        except OSError:
            return
        if not message:
            return  # the judge is gone: so are we
        config = json.loads(message)
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_child(config, fds)
        for fd in fds:
            os.close(fd)
        try:
            control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            return  # the judge went away (Ctrl-C, kill): nothing to report to, nothing to print


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


def _become_child(config: dict, fds: list[int]) -> None:
    from grader.child import confine, runner

    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        stdin, stdout, stderr, status = fds
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        config["status_fd"] = status
        proto_in, proto_out = runner.take_protocol_fds()
        confine.enter(config)
        os.close(status)  # only the monitor reports the status
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
