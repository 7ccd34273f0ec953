"""EagerServer: writes go out at once when nothing is queued, and keep Twisted's order and
flow control otherwise.  Real connected sockets; the reactor is a MemoryReactor that records
which descriptors want to write."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactor

from interface_server.eager import EagerServer, make_eager


@pytest.fixture
def pair() -> Iterator[tuple[EagerServer, socket.socket, MemoryReactor]]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    # Small buffers make partial writes easy to provoke.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.connect(listener.getsockname())
    accepted, address = listener.accept()
    listener.close()
    accepted.setblocking(False)
    accepted.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    reactor = MemoryReactor()
    protocol = Protocol()
    server = EagerServer(accepted, protocol, address, SimpleNamespace(_realPortNumber=0), 1,
                         reactor)
    protocol.makeConnection(server)
    try:
        yield server, client, reactor
    finally:
        client.close()
        accepted.close()


def receive(client: socket.socket, size: int) -> bytes:
    client.settimeout(5)
    data = b""
    while len(data) < size:
        chunk = client.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_write_to_an_idle_connection_is_sent_at_once(pair) -> None:  # type: ignore[no-untyped-def]
    server, client, reactor = pair
    server.write(b"hello ")
    server.writeSequence([b"wor", b"ld"])
    assert receive(client, 11) == b"hello world"
    assert server not in reactor.getWriters()  # nothing was left for the reactor


def test_what_the_kernel_does_not_take_is_queued_in_order(pair) -> None:  # type: ignore[no-untyped-def]
    server, client, reactor = pair
    big = bytes(range(256)) * 4096  # 1 MiB: more than the socket buffers hold
    server.write(big)
    assert server in reactor.getWriters()
    server.write(b"tail")  # must not jump the queue
    received = b""
    client.settimeout(5)
    while len(received) < len(big) + 4:
        server.doWrite()
        received += client.recv(1 << 20)
    assert received == big + b"tail"
    server.doWrite()
    assert server not in reactor.getWriters()


def test_after_lose_connection_writes_take_twisteds_path(pair) -> None:  # type: ignore[no-untyped-def]
    server, client, reactor = pair
    server.loseConnection()
    server.write(b"late")
    assert server in reactor.getWriters()  # queued behind the close, not sent around it
    server.doWrite()  # the reactor's turn: the data goes out, then the close
    assert receive(client, 4) == b"late"


def test_a_failing_send_is_reported_by_twisted(pair) -> None:  # type: ignore[no-untyped-def]
    server, client, reactor = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # RST
    with pytest.raises(OSError):
        server.socket.recv(1)  # the reset has arrived
    server.write(b"to nobody")
    assert server in reactor.getWriters()  # handed to Twisted, which meets the error
    result = server.doWrite()
    assert result is not None and not isinstance(result, int)  # connection-lost reason


def test_make_eager_only_touches_plain_tcp_ports() -> None:
    port = tcp.Port(0, None)  # type: ignore[arg-type]
    assert make_eager(port).transport is EagerServer
    other = SimpleNamespace(transport=object)
    assert make_eager(other) is other and other.transport is object
