"""A socket pair the supervisor sleeps on: threads wake it, signals wake it.

Waiting on a lock or queue in the main thread does not reliably return when a signal arrives
(the kernel may hand a process-directed signal to any other thread, and then the main thread
keeps sleeping).  Waiting in ``select`` on a socket that is also Python's signal wakeup fd
does: the C-level handler writes the signal number into it from whatever thread ran.
"""

from __future__ import annotations

import contextlib
import select
import socket

__all__ = ["Waker"]

#: Byte written by :meth:`Waker.wake`; signal numbers are never 0.
_WAKE = b"\0"


class Waker:
    """Non-blocking socket pair; :meth:`wait` returns the signal numbers that arrived."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    @property
    def signal_fd(self) -> int:
        """The fd to pass to :func:`signal.set_wakeup_fd`."""
        return self._writer.fileno()

    def wake(self) -> None:
        """Make the current or next :meth:`wait` return (thread-safe)."""
        # A full buffer already guarantees a wake-up, so losing this byte is harmless.
        with contextlib.suppress(BlockingIOError, OSError):
            self._writer.send(_WAKE)

    def wait(self, timeout: float | None) -> list[int]:
        """Sleep until woken or ``timeout`` passes; return signal numbers received."""
        readable, _, _ = select.select([self._reader], [], [], timeout)
        if not readable:
            return []
        signals: list[int] = []
        while True:
            try:
                data = self._reader.recv(4096)
            except (BlockingIOError, InterruptedError):
                return signals
            if not data:
                return signals
            signals.extend(byte for byte in data if byte)

    def close(self) -> None:
        """Close both ends."""
        self._reader.close()
        self._writer.close()
