"""Tests for interface_server.server: start, graceful stop and layer data loss, with the real
in-memory layer, protocols on in-memory transports and every timer on a fake clock.

``MemoryReactorClock`` records listening ports and runs ``callLater``.  Layer coroutines that
finish at once (the in-memory layer's sends and identity) run through
``Deferred.fromCoroutine``; the process-channel receive is parked on a Deferred, as a real
blocking receive would be, and cancelled by ``stop()``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from channels_classic.layers.inmemory import InMemoryChannelLayer
from interface_server.config import ConfigError, ServerConfig
from interface_server.server import FINAL_FLUSH_TIMEOUT, Server
from tests.interface_server.harness import (
    Transport,
    close_code,
    close_frame,
    parse_server_frames,
    upgrade_request,
)


class Runner:
    """Runs layer coroutines at once, except those named in ``park`` (left pending)."""

    def __init__(self, park: tuple[str, ...] = ("fetch_async",)) -> None:
        self.park = park
        self.parked: list[Deferred[Any]] = []

    def __call__(self, coro: Any) -> Deferred[Any]:
        if coro.cr_code.co_name in self.park:
            coro.close()
            d: Deferred[Any] = Deferred()
            self.parked.append(d)
            return d
        return Deferred.fromCoroutine(coro)


class Stack:
    """A started server with helpers to open connections and read what the app got."""

    def __init__(self, runner: Runner | None = None, **config: Any) -> None:
        self.reactor = MemoryReactorClock()
        self.layer = InMemoryChannelLayer(clock=self.reactor.seconds)
        self.runner = runner or Runner()
        self.actions: list[tuple[str, str, dict[str, Any]]] = []
        self.server = Server(
            ServerConfig(endpoints=("tcp:0",), **config), self.layer, reactor=self.reactor,
            action_logger=lambda p, a, d: self.actions.append((p, a, d)),
            runner=self.runner, layer_check_interval=0,
        )
        started: list[Any] = []
        self.server.start().addBoth(started.append)
        assert len(started) == 1 and not isinstance(started[0], Exception), started

    def connect(self) -> tuple[Any, Transport]:
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.server.factory.buildProtocol(peer)
        transport = Transport(hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
                              peerAddress=peer)
        protocol.makeConnection(transport)
        return protocol, transport

    def app(self, channel: str) -> list[dict[str, Any]]:
        self.reactor.advance(0)
        return [d.content for d in self.layer.fetch([channel], max_messages=100)]

    def reply(self, channel: str, message: dict[str, Any]) -> None:
        self.server.ctx.dispatch(channel, message)
        self.reactor.advance(0)


def lose_if_closed(*pairs: tuple[Any, Transport]) -> None:
    """Deliver connectionLost to protocols whose transport was closed (StringTransport only
    records the close)."""
    for protocol, transport in pairs:
        if transport.disconnecting and not getattr(transport, "lost", False):
            transport.lost = True  # type: ignore[attr-defined]
            protocol.connectionLost(None)


def test_start_listens_and_reads_the_process_channel() -> None:
    stack = Stack()
    assert stack.server.addresses == ["0.0.0.0:0"]
    assert [port[0] for port in stack.reactor.tcpServers] == [0]
    assert len(stack.runner.parked) == 1  # the receive waits on the process channel
    assert stack.server.prefix.startswith("interface.") and stack.server.prefix.endswith("!")


def test_an_endpoint_that_fails_closes_the_others() -> None:
    reactor = MemoryReactorClock()
    server = Server(ServerConfig(endpoints=("tcp:0", "nosuchtype:1")), InMemoryChannelLayer(),
                    reactor=reactor, runner=Runner(), layer_check_interval=0)
    outcome: list[Any] = []
    server.start().addErrback(lambda failure: outcome.append(failure.value))
    assert isinstance(outcome[0], ConfigError) and "nosuchtype" in str(outcome[0])
    assert server.ports == [] and server.addresses == []


def test_graceful_stop_closes_sockets_finishes_responses_then_cuts_after_the_grace() -> None:
    stack = Stack(shutdown_timeout=5)
    idle = stack.connect()
    busy = stack.connect()
    stuck = stack.connect()
    ws = stack.connect()
    busy[0].dataReceived(b"GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
    stuck[0].dataReceived(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
    ws[0].dataReceived(upgrade_request("/ws"))
    requests = {m["path"]: m for m in stack.app("http.request")}
    [connect] = stack.app("websocket.connect")
    stack.reply(connect["reply_channel"], {"accept": True})

    stopped: list[Any] = []
    stack.server.stop().addBoth(stopped.append)
    assert stack.server.ports == []
    assert idle[1].disconnecting and not busy[1].disconnecting
    frames = parse_server_frames(ws[1].value().partition(b"\r\n\r\n")[2])
    assert frames[-1][0] == 8 and close_code(frames[-1][1]) == 1001
    new_client = stack.connect()  # a connection accepted while stopping is closed at once
    assert new_client[1].disconnecting
    ws[0].dataReceived(close_frame(1001))  # the client answers the close handshake
    lose_if_closed(idle, ws, new_client)
    [disconnect] = stack.app("websocket.disconnect")
    assert disconnect["code"] == 1001

    stack.reply(requests["/busy"]["reply_channel"], {"status": 200, "content": b"done"})
    assert b"connection: close" in busy[1].value() and busy[1].value().endswith(b"done")
    lose_if_closed(busy)
    stack.reactor.advance(4.9)
    assert not stuck[1].disconnecting and stopped == []
    stack.reactor.advance(0.2)  # the grace period is over: cut what is left
    assert stuck[1].aborted
    lose_if_closed(stuck)
    assert [d["path"] for d in stack.app("http.disconnect")] == ["/stuck"]
    stack.reactor.advance(0)
    assert stopped == [None]
    assert stack.runner.parked[0].called  # the receive was cancelled
    assert stack.reactor.getDelayedCalls() == []


def test_stop_gives_up_on_a_layer_that_does_not_take_the_last_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = Runner(park=("fetch_async",))
    stack = Stack(runner=runner)
    ws = stack.connect()
    ws[0].dataReceived(upgrade_request("/ws"))
    [connect] = stack.app("websocket.connect")
    stack.reply(connect["reply_channel"], {"accept": True})
    runner.park = ("fetch_async", "send_many_async")  # the layer stops answering sends
    stopped: list[Any] = []
    with caplog.at_level(logging.WARNING, logger="interface_server"):
        stack.server.stop().addBoth(stopped.append)
        ws[0].dataReceived(close_frame(1001))
        lose_if_closed(ws)
        stack.reactor.advance(0)
        assert stopped == []  # the disconnect is on its way to the layer
        stack.reactor.advance(FINAL_FLUSH_TIMEOUT)
    assert stopped == [None]
    assert ("Shutdown: 1 message(s) were sent to the layer without an answer within 2s; they "
            "may be lost") in caplog.text


def test_layer_data_loss_closes_websockets_fails_waiting_requests_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = Stack()
    ws = stack.connect()
    waiting = stack.connect()
    answered = stack.connect()
    ws[0].dataReceived(upgrade_request("/ws"))
    [connect] = stack.app("websocket.connect")
    stack.reply(connect["reply_channel"], {"accept": True})
    waiting[0].dataReceived(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
    answered[0].dataReceived(b"GET /done HTTP/1.1\r\nHost: x\r\n\r\n")
    requests = {m["path"]: m for m in stack.app("http.request")}
    stack.reply(requests["/done"]["reply_channel"], {"status": 200})
    # The identity seen at start-up differs from the layer's now: its backend restarted.
    stack.server.health.identity = "before-restart"
    with caplog.at_level(logging.ERROR, logger="interface_server"):
        stack.server.health.check()
    assert f"lost its data (identity before-restart -> {stack.layer.identity()}): closed 1 " \
           "WebSocket(s) with 1011" in caplog.text
    assert "failed 1 waiting HTTP request(s)" in caplog.text
    frames = parse_server_frames(ws[1].value().partition(b"\r\n\r\n")[2])
    assert close_code(frames[-1][1]) == 1011
    assert waiting[1].value().startswith(b"HTTP/1.1 503 ")
    assert answered[1].value().startswith(b"HTTP/1.1 200 ") and not answered[1].disconnecting
    fresh = stack.connect()  # and new connections are served as before
    fresh[0].dataReceived(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [m["path"] for m in stack.app("http.request")] == ["/again"]
