"""TCP connections that send at once when nothing is queued ahead.

Twisted's TCP transport never sends inside ``write()``: it queues the bytes, asks the reactor
to watch the socket for writability, sends from the next reactor iteration and stops watching
again.  On the asyncio reactor that is two ``epoll_ctl`` calls, a loop iteration and several
layers of Python per write, which is a large part of the cost of a small WebSocket frame or
HTTP response.  :class:`EagerServer` tries ``send()`` first and hands Twisted only what the
kernel did not take, so a reply to an idle connection costs one system call.

Order and flow control stay Twisted's: the eager path is only taken when Twisted holds nothing
for the connection, anything unsent is queued behind through the normal path (which pauses a
registered producer when its buffer grows), and a failing ``send()`` hands the data to the
normal path too, so a reset connection is reported by Twisted exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from errno import ENOBUFS, EWOULDBLOCK
from typing import Any

from twisted.internet import tcp

__all__ = ["EagerServer", "make_eager"]


class EagerServer(tcp.Server):
    """A server-side TCP connection whose ``write`` sends immediately when it can."""

    def _idle(self) -> bool:
        # Twisted holds nothing: no queued chunks, nothing left of the last send.
        return (
            not self._tempDataLen
            and self.offset == len(self.dataBuffer)
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
            and not self.TLS
        )

    def write(self, data: bytes) -> None:
        """Send ``data`` now if nothing is queued; queue whatever the kernel did not take."""
        if not data or type(data) is not bytes or not self._idle():
            super().write(data)
            return
        try:
            sent = self.socket.send(data)
        except OSError as exc:
            if exc.errno not in (EWOULDBLOCK, ENOBUFS):
                # Let Twisted meet the error on its own path and report the lost connection.
                super().write(data)
                return
            sent = 0
        if sent < len(data):
            super().write(data[sent:])

    def writeSequence(self, iovec: Iterable[bytes]) -> None:  # noqa: N802 (Twisted API)
        """Join the chunks and write them as one (one system call when idle)."""
        chunks = list(iovec)
        if chunks and all(type(chunk) is bytes for chunk in chunks):
            self.write(b"".join(chunks))
        else:
            super().writeSequence(chunks)


def make_eager(port: Any) -> Any:
    """Make a listening TCP port create :class:`EagerServer` connections; returns the port.

    Ports of other kinds (UNIX sockets, anything not built on Twisted's plain ``tcp.Port``)
    are returned unchanged.
    """
    if isinstance(port, tcp.Port) and port.transport is tcp.Server:
        # tcp.Port builds each accepted connection with ``self.transport(...)``.
        port.transport = EagerServer
    return port
