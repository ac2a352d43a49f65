"""Reading a worker's status pipe under hard bounds: lines, payloads, deadlines.

The worker says ``<word> ...\\n`` lines, some followed by a payload of a stated size
(:mod:`worker` documents the protocol). Nothing read here is trusted: a line longer than
``MAX_LINE`` is a flood (treated as the worker's death), a payload is read only up to the
size the caller accepted, and every read has a deadline.

The descriptor is non-blocking and read straight into one reusable buffer (no allocation per
read): the grader first takes what is already there and waits in ``poll`` only when nothing
is, so answers that arrive while it was busy cost one system call together.
"""

from __future__ import annotations

import fcntl
import os
import select
import time

MAX_LINE = 64 * 1024  # a status line longer than this is a flood
CHUNK = 256 * 1024  # room kept free for one read
PIPE_SIZE = 1 << 20  # the pipe's capacity asked for (a worker rarely waits for the grader)
_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def widen(fd: int) -> None:
    """Ask for a bigger pipe (best effort: the kernel may refuse; nothing depends on it)."""
    try:
        fcntl.fcntl(fd, _SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


class StatusPipe:
    """The read end of one worker's status pipe (owns and closes the descriptor)."""

    def __init__(self, fd: int):
        self.fd = fd
        os.set_blocking(fd, False)
        self.buf = bytearray(CHUNK * 2)
        self.view = memoryview(self.buf)
        self.start = self.end = 0  # the unread bytes are buf[start:end]
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)
        self.eof = False

    def _room(self, need: int) -> None:
        """At least ``need`` (and CHUNK) free bytes after ``end``: move the unread bytes to the
        front, or grow the buffer (sizes are bounded by the callers)."""
        need = max(need, CHUNK)
        if len(self.buf) - self.end >= need:
            return
        unread = self.end - self.start
        if len(self.buf) - unread < need:
            self.view.release()
            self.buf.extend(bytes(unread + need - len(self.buf)))
            self.view = memoryview(self.buf)
        self.buf[:unread] = bytes(self.view[self.start : self.end])
        self.start, self.end = 0, unread

    def _fill(self, deadline: float, need: int = 0) -> bool:
        """Read what the pipe has (waiting until ``deadline``); False at EOF or deadline."""
        if self.eof:
            return False
        self._room(need)
        while True:
            try:
                n = os.readv(self.fd, [self.view[self.end :]])
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.poller.poll(max(1, int(remaining * 1000 + 0.999))):
                    return False
                continue
            except InterruptedError:
                continue
            if not n:
                self.eof = True
                return False
            self.end += n
            return True

    def line(self, deadline: float) -> str | None:
        """The next status line, or None at EOF (the worker died) or at the deadline."""
        while True:
            end = self.buf.find(b"\n", self.start, self.end)
            if end >= 0:
                break
            if self.end - self.start > MAX_LINE:  # a flood on the status pipe: a crash
                self.eof, self.start, self.end = True, 0, 0
            if not self._fill(deadline):
                return None
        line = bytes(self.view[self.start : end])
        self.start = end + 1
        return line.decode("ascii", "replace").strip()

    def payload(self, size: int, deadline: float) -> bytes | None:
        """Exactly ``size`` bytes after a status line, or None (EOF, deadline)."""
        while self.end - self.start < size:
            if not self._fill(deadline, size - (self.end - self.start)):
                return None
        data = bytes(self.view[self.start : self.start + size])
        self.start += size
        return data

    def skip(self, size: int, deadline: float) -> bool:
        """Drop ``size`` bytes of the pipe (reading them in pieces)."""
        while size:
            if self.start == self.end and not self._fill(deadline):
                return False
            n = min(size, self.end - self.start)
            self.start += n
            size -= n
        return True

    def timed_out(self, deadline: float) -> bool:
        return time.monotonic() >= deadline and not self.eof

    def close(self) -> None:
        if self.fd >= 0:
            self.view.release()
            os.close(self.fd)
            self.fd = -1
