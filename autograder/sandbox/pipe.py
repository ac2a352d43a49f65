"""Reading a worker's status pipe under hard bounds: lines, payloads, deadlines.

The worker says ``<word> ...\\n`` lines, some followed by a payload of a stated size
(:mod:`worker` documents the protocol). Nothing read here is trusted: a line longer than
``MAX_LINE`` is a flood (treated as the worker's death), a payload is read only up to the
size the caller accepted, and every read has a deadline.
"""

from __future__ import annotations

import os
import selectors
import time

MAX_LINE = 64 * 1024  # a status line longer than this is a flood


class StatusPipe:
    """The read end of one worker's status pipe (owns and closes the descriptor)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()
        self.sel = selectors.DefaultSelector()
        self.sel.register(fd, selectors.EVENT_READ)
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        """Read what the pipe has (waiting until ``deadline``); False at EOF or deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.sel.select(remaining):
            return False
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def line(self, deadline: float) -> str | None:
        """The next status line, or None at EOF (the worker died) or at the deadline."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:  # a flood on the status pipe: treat as a crash
                self.eof, self.buffer = True, bytearray()
            if not self._fill(deadline):
                return None
        end = self.buffer.index(b"\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 1]
        return line.decode("ascii", "replace").strip()

    def payload(self, size: int, deadline: float) -> bytes | None:
        """Exactly ``size`` bytes after a status line, or None (EOF, deadline)."""
        while len(self.buffer) < size:
            if not self._fill(deadline):
                return None
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def skip(self, size: int, deadline: float) -> bool:
        """Drop ``size`` bytes of the pipe (reading them in pieces)."""
        while size:
            if not self.buffer and not self._fill(deadline):
                return False
            n = min(size, len(self.buffer))
            del self.buffer[:n]
            size -= n
        return True

    def timed_out(self, deadline: float) -> bool:
        return time.monotonic() >= deadline and not self.eof

    def close(self) -> None:
        if self.fd >= 0:
            self.sel.close()
            os.close(self.fd)
            self.fd = -1
