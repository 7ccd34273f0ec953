"""In-memory harness for protocol tests: real protocols, real in-memory layer, fake clock.

Connections run on ``StringTransport`` (what the server writes is in ``transport.value()``);
the layer is a real :class:`InMemoryChannelLayer`; the sender is the real
:class:`LayerSender`, run synchronously; every timer is on a ``task.Clock``.  ``app_messages``
reads what the app would receive and ``reply`` delivers a message from the app.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from typing import Any

from twisted.internet import task
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from zope.interface import alsoProvides

from channels_classic.layers.base import new_process_prefix
from channels_classic.layers.inmemory import InMemoryChannelLayer
from interface_server.config import ServerConfig
from interface_server.context import ServerContext
from interface_server.layer_io import LayerSender
from interface_server.protocols.http import HttpProtocol
from interface_server.protocols.websocket import make_websocket_factory

APP_CHANNELS = ["http.request", "http.disconnect", "websocket.connect", "websocket.receive",
                "websocket.disconnect"]


class Transport(StringTransport):
    """StringTransport that also records aborts and TCP_NODELAY calls."""

    aborted = False

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


class Harness:
    """One server context with its layer, sender and clock."""

    def __init__(self, capacity: int = 100, **config: Any) -> None:
        self.clock = task.Clock()
        self.layer = InMemoryChannelLayer(capacity=capacity, clock=self.clock.seconds)
        self.config = ServerConfig(**config)
        self.sender = LayerSender(
            self.layer, self.clock, Deferred.fromCoroutine,
            admission_timeout=self.config.admission_timeout,
            queue_limit=self.config.admission_queue_limit,
        )
        self.actions: list[tuple[str, str, dict[str, Any]]] = []
        self.ctx = ServerContext(
            config=self.config,
            clock=self.clock,
            sender=self.sender,
            new_body_channel=lambda: self.layer.new_channel("http.request.body?"),
            prefix=new_process_prefix("test"),
            action_logger=lambda p, a, d: self.actions.append((p, a, d)),
            ws_factory=make_websocket_factory(self.config),
        )

    def connect(self, peer: str = "127.0.0.1", secure: bool = False, unix: bool = False
                ) -> tuple[HttpProtocol, Transport]:
        """A new connection from ``peer``."""
        if unix:
            transport = Transport(hostAddress=UNIXAddress(b"/tmp/s"), peerAddress=UNIXAddress(None))
        else:
            transport = Transport(hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
                                  peerAddress=IPv4Address("TCP", peer, 40000))
        if secure:
            alsoProvides(transport, ISSLTransport)
        protocol = HttpProtocol(self.ctx)
        protocol.makeConnection(transport)
        return protocol, transport

    def flush(self) -> None:
        """Let the sender's batch go (one reactor turn)."""
        self.clock.advance(0)

    def app_messages(self, channel: str) -> list[dict[str, Any]]:
        """Everything the app would now receive on ``channel``."""
        self.flush()
        return [d.content for d in self.layer.fetch([channel], max_messages=1000)]

    def reply(self, reply_channel: str, message: dict[str, Any]) -> None:
        """A message from the app on a reply channel."""
        self.ctx.dispatch(reply_channel, message)


# -- WebSocket frame helpers -----------------------------------------------------------------

def upgrade_request(path: str = "/ws", extra: bytes = b"", protocols: str | None = None
                    ) -> bytes:
    """A WebSocket opening handshake request."""
    key = base64.b64encode(os.urandom(16))
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: example.com", b"Upgrade: websocket",
             b"Connection: Upgrade", b"Sec-WebSocket-Key: " + key, b"Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append(b"Sec-WebSocket-Protocol: " + protocols.encode())
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


def expected_accept(request: bytes) -> bytes:
    key = next(line.split(b": ")[1] for line in request.split(b"\r\n")
           if line.startswith(b"Sec-WebSocket-Key"))
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


def client_frame(payload: bytes, opcode: int = 1, fin: bool = True, masked: bool = True,
                 length: int | None = None) -> bytes:
    """One client frame (masked unless told otherwise)."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


def close_frame(code: int | None = 1000) -> bytes:
    return client_frame(b"" if code is None else struct.pack("!H", code), opcode=8)


def parse_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server frames into ``(opcode, payload)``."""
    frames = []
    while data:
        opcode = data[0] & 0x0F
        size = data[1] & 0x7F
        offset = 2
        if size == 126:
            size = struct.unpack("!H", data[2:4])[0]
            offset = 4
        elif size == 127:
            size = struct.unpack("!Q", data[2:10])[0]
            offset = 10
        frames.append((opcode, data[offset:offset + size]))
        data = data[offset + size:]
    return frames


def close_code(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
