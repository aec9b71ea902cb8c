"""Move bytes to and from a child over pipes without trusting it to read or to stop writing.

A hostile child can stop reading its request pipe (or shrink it, or fill it
itself through ``/proc/self/fd``), so ``send`` writes without blocking and
waits for room only until the deadline. It can write a reply of any size,
and any number of them, so ``Replies`` reads only when a reply is asked
for, one line at a time, and gives up on a line past ``MAX_REPLY`` bytes
without holding more of it than that. On Windows, where pipes cannot be
polled, a thread does the waiting with the same bounds.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from typing import Any

from grader.child.wire import MAX_REPLY
from grader.run.executors.base import ProtocolFault, Timeout

__all__ = ["send", "Replies"]

_CHUNK = 1 << 20
_AWAKE = 0.2  # seconds: how long a wait on the child goes without looking at signals
_POSIX = sys.platform != "win32"


def send(stream: Any, data: bytes, deadline: float) -> None:
    """Write ``data`` to the child's request pipe, raising Timeout at ``deadline``.

    A child that is gone is not an error here: the reply's end says so.
    """
    if not _POSIX:
        _send_on_a_thread(stream, data, deadline)
        return
    import select

    fd = stream.fileno()
    os.set_blocking(fd, False)
    view = memoryview(data)
    while view:
        if not _ready(fd, select.POLLOUT, deadline):
            continue
        try:
            view = view[os.write(fd, view[:_CHUNK]) :]
        except BlockingIOError:
            continue
        except OSError:
            return  # the child closed its end (BrokenPipeError): its ending tells why


def _ready(fd: int, event: int, deadline: float) -> bool:
    """Wait until ``fd`` is ready for ``event`` (True) or a while passed (False); Timeout after."""
    import select

    wait = deadline - time.monotonic()
    if wait <= 0:
        raise Timeout()
    poller = select.poll()
    poller.register(fd, event)
    # A short wait, then the caller asks again: Ctrl-C is often delivered to one of the
    # grader's other threads, which only sets a flag, and a main thread asleep in one
    # long poll() would see it when the whole time limit was over.
    return bool(poller.poll(min(wait, _AWAKE) * 1000))


def _send_on_a_thread(stream: Any, data: bytes, deadline: float) -> None:
    done = threading.Event()

    def write() -> None:
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):
            pass
        done.set()

    threading.Thread(target=write, daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise Timeout()


class Replies:
    """Read the child's reply lines, only when asked, each bounded by ``MAX_REPLY``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer known to hold no newline
        self._eof = False
        self._lines: queue.Queue[bytes | None] | None = None
        self._asked: threading.Semaphore | None = None
        if _POSIX:
            os.set_blocking(stream.fileno(), False)
        else:
            self._lines, self._asked = queue.Queue(), threading.Semaphore(0)
            threading.Thread(target=self._read_on_a_thread, daemon=True).start()

    def line(self, deadline: float) -> bytes | None:
        """Return the next whole line, or None when the child ended without one.

        Raises Timeout at ``deadline`` and ProtocolFault for a line past the cap.
        """
        if not _POSIX:
            return self._line_from_thread(deadline)
        import select

        while True:
            end = self._buffer.find(b"\n", self._searched)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._searched = 0
                return line
            self._searched = len(self._buffer)
            if len(self._buffer) > MAX_REPLY:
                raise ProtocolFault(f"it sent a reply over {MAX_REPLY // 1024**2} MiB")
            if self._eof:
                return None
            if not _ready(self._stream.fileno(), select.POLLIN, deadline):
                continue
            try:
                chunk = os.read(self._stream.fileno(), MAX_REPLY + 1 - len(self._buffer))
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self._eof = True
            self._buffer += chunk

    def _line_from_thread(self, deadline: float) -> bytes | None:
        assert self._lines is not None and self._asked is not None
        self._asked.release()  # one line read per line asked for: replies never pile up
        try:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            raise Timeout() from None
        if line is not None and len(line) > MAX_REPLY:
            raise ProtocolFault(f"it sent a reply over {MAX_REPLY // 1024**2} MiB")
        return line

    def _read_on_a_thread(self) -> None:
        assert self._lines is not None and self._asked is not None
        try:
            while True:
                self._asked.acquire()
                line = self._stream.readline(MAX_REPLY + 1)
                if not line:
                    break
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        self._lines.put(None)
