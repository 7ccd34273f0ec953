"""Tests for interface_server.protocols.websocket on in-memory transports and a fake clock."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.interface_server.harness import (
    Harness,
    client_frame,
    close_code,
    close_frame,
    expected_accept,
    parse_server_frames,
    upgrade_request,
)


class Socket:
    """A WebSocket client on a StringTransport."""

    def __init__(self, h: Harness, path: str = "/ws", extra: bytes = b"",
                 protocols: str | None = None, **connect: Any) -> None:
        self.h = h
        self.protocol, self.transport = h.connect(**connect)
        self.request = upgrade_request(path, extra, protocols)
        self.protocol.dataReceived(self.request)
        [self.connect] = h.app_messages("websocket.connect")
        self.reply_channel = self.connect["reply_channel"]

    def reply(self, **message: Any) -> None:
        self.h.reply(self.reply_channel, message)
        self.h.flush()

    def accept(self, **extra: Any) -> None:
        self.reply(accept=True, **extra)
        assert self.head.startswith(b"HTTP/1.1 101 ")

    @property
    def head(self) -> bytes:
        return self.transport.value().partition(b"\r\n\r\n")[0]

    def frames(self) -> list[tuple[int, bytes]]:
        return parse_server_frames(self.transport.value().partition(b"\r\n\r\n")[2])

    def send(self, payload: bytes, opcode: int = 1, **kwargs: Any) -> None:
        self.protocol.dataReceived(client_frame(payload, opcode, **kwargs))

    def receives(self) -> list[dict[str, Any]]:
        return self.h.app_messages("websocket.receive")

    def disconnects(self) -> list[dict[str, Any]]:
        return self.h.app_messages("websocket.disconnect")

    def lose(self) -> None:
        self.protocol.connectionLost(None)


def test_handshake_is_held_until_the_app_accepts() -> None:
    h = Harness()
    ws = Socket(h, "/ws/caf%C3%A9?a=1", extra=b"Cookie: a=1\r\nCookie: b=2\r\n")
    assert ws.transport.value() == b""
    connect = dict(ws.connect)
    assert connect.pop("reply_channel").startswith(h.ctx.prefix)
    headers = connect.pop("headers")
    assert [b"cookie", b"a=1"] in headers and [b"cookie", b"b=2"] in headers
    assert connect == {"scheme": "ws", "path": "/ws/café", "query_string": b"a=1",
                       "root_path": "", "client": ["127.0.0.1", 40000],
                       "server": ["127.0.0.1", 8000], "order": 0}
    ws.accept()
    assert b"Sec-WebSocket-Accept: " + expected_accept(ws.request) in ws.head
    assert [a for _, a, _ in h.actions] == ["connecting", "connected"]


def test_wss_scheme_from_a_trusted_proxy() -> None:
    # (TLS itself is covered by the real-socket tests: autobahn needs a real TLS transport.)
    h = Harness(proxy_headers=True, root_path="/prefix")
    proxied = Socket(h, extra=b"X-Forwarded-Proto: https\r\nX-Forwarded-For: 1.2.3.4\r\n")
    assert proxied.connect["scheme"] == "wss" and proxied.connect["client"] == ["1.2.3.4", 0]
    assert proxied.connect["root_path"] == "/prefix"


def test_null_origin_is_passed_to_the_app() -> None:
    h = Harness()
    ws = Socket(h, extra=b"Origin: null\r\n")
    assert [b"origin", b"null"] in ws.connect["headers"]
    ws.accept()


@pytest.mark.parametrize("message", [{"close": True}, {"accept": False, "text": "x"}])
def test_reject_is_403_and_still_one_disconnect(message: dict[str, Any]) -> None:
    h = Harness()
    ws = Socket(h)
    ws.reply(**message)
    assert ws.transport.value().startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert ws.disconnects() == [{"reply_channel": ws.reply_channel, "code": 1006,
                                 "path": "/ws", "order": 1}]
    ws.lose()
    assert ws.disconnects() == []
    assert [a for _, a, _ in h.actions] == ["connecting", "rejected"]


_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n")
_KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (_UPGRADE + b"\r\n", b"400 Bad Request"),  # no Sec-WebSocket-Key
        (_UPGRADE + b"Sec-WebSocket-Key: <script>\r\n\r\n", b"400 Bad Request"),
        (_UPGRADE.replace(b": 13", b": 7") + _KEY + b"\r\n", b"400 Bad Request"),
        (_UPGRADE.replace(b"HTTP/1.1", b"HTTP/1.0") + _KEY + b"\r\n",
         b"505 HTTP Version Not Supported"),
    ],
)
def test_invalid_upgrade_requests_are_refused_logged_and_counted(
    head: bytes, status: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness()
    protocol, transport = h.connect()
    with caplog.at_level(logging.INFO, logger="interface_server.websocket"):
        protocol.dataReceived(head)
    assert transport.value().startswith(b"HTTP/1.1 " + status + b"\r\n")
    assert b"script" not in transport.value()  # request data is never echoed
    assert transport.disconnecting
    assert "Refused WebSocket handshake from 127.0.0.1:40000 for /ws → " in caplog.text
    assert h.ctx.stats.http_errors == {int(status[:3]): 1}
    assert [(p, a) for p, a, _ in h.actions] == [("websocket", "rejected")]
    protocol.connectionLost(None)
    assert h.app_messages("websocket.connect") == []
    assert h.app_messages("websocket.disconnect") == []


def test_connect_timeout_rejects() -> None:
    h = Harness(websocket_connect_timeout=5)
    ws = Socket(h)
    h.clock.advance(5.1)
    assert ws.transport.value().startswith(b"HTTP/1.1 403 ")
    assert [d["code"] for d in ws.disconnects()] == [1006]


@pytest.mark.parametrize(
    ("server", "offered", "app", "chosen"),
    [
        (("b", "a"), "a, b", None, b"a"),
        ((), "a, b", "b", b"b"),
        (("a",), "a", "unknown", b"a"),
        ((), "a", None, None),
    ],
)
def test_subprotocol_choice(server: tuple[str, ...], offered: str, app: str | None,
                            chosen: bytes | None) -> None:
    h = Harness(ws_protocols=server)
    ws = Socket(h, protocols=offered)
    ws.accept(**({"subprotocol": app} if app else {}))
    if chosen is None:
        assert b"Sec-WebSocket-Protocol" not in ws.head
    else:
        assert b"Sec-WebSocket-Protocol: " + chosen in ws.head


def test_frames_flow_both_ways_with_order() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.send(b"hello")
    ws.send(b"\x00\xff", opcode=2)
    ws.send(b"frag", fin=False)
    ws.send(b"ment", opcode=0)
    receives = ws.receives()
    assert receives == [
        {"reply_channel": ws.reply_channel, "path": "/ws", "order": 1, "text": "hello"},
        {"reply_channel": ws.reply_channel, "path": "/ws", "order": 2, "bytes": b"\x00\xff"},
        {"reply_channel": ws.reply_channel, "path": "/ws", "order": 3, "text": "fragment"},
    ]
    ws.reply(text="t")
    ws.reply(bytes=b"b")
    ws.reply(text="")
    ws.reply(bytes=b"")
    ws.reply(text="x", bytes=b"y")  # both: ignored
    # A consumer forwarding the received message: unknown keys ignored, the text is sent.
    ws.reply(**receives[0])
    ws.reply(accept=True)  # ignored on an open socket
    assert ws.frames() == [(1, b"t"), (2, b"b"), (1, b""), (2, b""), (1, b"hello")]
    ws.send(b"bye", opcode=1)
    ws.protocol.dataReceived(close_frame(4000))
    assert ws.frames()[-1] == (8, b"\x0f\xa0")  # close echoed with the client's code
    ws.lose()
    assert ws.disconnects() == [{"reply_channel": ws.reply_channel, "code": 4000, "path": "/ws",
                                 "order": 5}]
    assert h.actions[-1][1] == "disconnected"


def test_frames_sent_before_the_accept_are_delivered_after_it() -> None:
    h = Harness()
    protocol, _transport = h.connect()
    protocol.dataReceived(upgrade_request() + client_frame(b"early"))
    [connect] = h.app_messages("websocket.connect")
    assert h.app_messages("websocket.receive") == []
    h.reply(connect["reply_channel"], {"accept": True})
    [receive] = h.app_messages("websocket.receive")
    assert receive["text"] == "early" and receive["order"] == 1


def test_accept_with_data_and_close() -> None:
    h = Harness()
    ws = Socket(h)
    ws.reply(text="bye", close=4001)
    assert ws.head.startswith(b"HTTP/1.1 101 ")
    frames = ws.frames()
    assert frames[0] == (1, b"bye") and frames[1][0] == 8 and close_code(frames[1][1]) == 4001
    ws.protocol.dataReceived(close_frame(4001))
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [4001]


def test_app_close_code_true_is_1000() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.reply(close=True)
    assert close_code(ws.frames()[-1][1]) == 1000


def test_abrupt_tcp_close_is_1006() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1006]


def test_client_close_without_code_is_1005() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.protocol.dataReceived(close_frame(None))
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1005]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(b"x" * 2000), 1009),
        (client_frame(b"a" * 1500, fin=False) + client_frame(b"b" * 1500, opcode=0), 1009),
        (client_frame(b"\xff\xfe"), 1007),
        (client_frame(b"x", masked=False), 1002),
        (client_frame(b"x", opcode=3), 1002),
        (client_frame(b"x", opcode=0), 1002),
    ],
)
def test_bad_frames_close_with_the_right_code(frame: bytes, code: int,
                                              caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(max_ws_message_size=1024)
    ws = Socket(h)
    ws.accept()
    with caplog.at_level(logging.INFO, logger="interface_server.websocket"):
        ws.protocol.dataReceived(frame)
    assert f"Closing WebSocket /ws of 127.0.0.1:40000 with {code}" in caplog.text
    assert ws.receives() == []
    frames = ws.frames()
    assert frames[-1][0] == 8 and close_code(frames[-1][1]) == code
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [code]


def test_ping_after_inbound_silence_and_drop_without_pong() -> None:
    h = Harness(ping_interval=10, ping_timeout=5)
    ws = Socket(h)
    ws.accept()
    h.clock.advance(9)
    ws.send(b"keepalive")
    h.clock.advance(9)
    assert all(op != 9 for op, _ in ws.frames())  # inbound data 9 s ago: no ping yet
    # Server-to-client traffic does not count as liveness.
    for _ in range(5):
        ws.reply(text="push")
        h.clock.advance(1)
    assert any(op == 9 for op, _ in ws.frames())
    h.clock.advance(5)
    assert ws.transport.aborted or ws.transport.disconnecting
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1006]


def test_pong_keeps_the_socket_alive() -> None:
    h = Harness(ping_interval=10, ping_timeout=5)
    ws = Socket(h)
    ws.accept()
    for _ in range(5):
        h.clock.advance(10)
        ws.send(b"", opcode=10)  # pong
        h.clock.advance(4)
    assert not ws.transport.disconnecting
    assert sum(1 for op, _ in ws.frames() if op == 9) >= 3


def test_websocket_timeout_closes_with_1000() -> None:
    h = Harness(websocket_timeout=100, ping_interval=1000)
    ws = Socket(h)
    ws.accept()
    h.clock.advance(101)
    assert close_code(ws.frames()[-1][1]) == 1000
    ws.protocol.dataReceived(close_frame(1000))
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1000]


def test_unanswered_close_handshake_is_cut() -> None:
    h = Harness(close_handshake_timeout=3)
    ws = Socket(h)
    ws.accept()
    ws.reply(close=4002)
    h.clock.advance(3.1)
    assert ws.transport.aborted
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [4002]


def test_slow_reader_is_closed_with_1013() -> None:
    h = Harness(max_outbound_buffer=1000)
    ws = Socket(h)
    ws.accept()
    ws.transport.producer.pauseProducing()
    for _ in range(5):
        ws.reply(bytes=b"x" * 300)
    frames = ws.frames()
    assert all(op != 2 for op, _ in frames)  # held, then dropped
    assert frames[-1][0] == 8 and close_code(frames[-1][1]) == 1013
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1013]


def test_held_frames_are_released_in_order() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.transport.producer.pauseProducing()
    ws.reply(text="1")
    ws.reply(text="2", close=True)
    assert ws.frames() == []
    ws.transport.producer.resumeProducing()
    assert ws.frames()[0] == (1, b"1") and ws.frames()[1] == (1, b"2")
    assert ws.frames()[2][0] == 8


def test_connect_refused_by_a_full_layer_is_503() -> None:
    h = Harness(capacity=1, admission_timeout=1)
    first, first_transport = h.connect()
    first.dataReceived(upgrade_request())
    protocol, transport = h.connect()
    protocol.dataReceived(upgrade_request())
    h.flush()
    for _ in range(6):
        h.clock.advance(0.25)
    assert transport.value().startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"websocket.connect" not in transport.value()  # internals stay in the log
    assert first_transport.value() == b""  # the first one is still waiting for the app
    assert len(h.app_messages("websocket.connect")) == 1
    assert h.app_messages("websocket.disconnect") == []  # the app never saw the second


def test_receive_refused_by_a_full_layer_closes_1013() -> None:
    h = Harness(capacity=2, admission_timeout=1)
    ws = Socket(h)
    ws.accept()
    for n in range(3):
        ws.send(str(n).encode())
    h.flush()
    for _ in range(6):
        h.clock.advance(0.25)
    frames = ws.frames()
    assert frames[-1][0] == 8 and close_code(frames[-1][1]) == 1013
    assert [m["order"] for m in ws.receives()] == [1, 2]
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1013]


def test_disconnect_waits_for_the_sockets_parked_receives() -> None:
    h = Harness(capacity=1, admission_timeout=30)
    ws = Socket(h)
    ws.accept()
    for n in range(3):
        ws.send(str(n).encode())
    ws.lose()
    h.flush()
    assert ws.disconnects() == []  # receives 2 and 3 still wait for room
    seen: list[int] = []
    for _ in range(50):
        seen += [m["order"] for m in ws.receives()]
        h.clock.advance(0.25)
    assert seen == [1, 2, 3]
    assert [(d["code"], d["order"]) for d in ws.disconnects()] == [(1006, 4)]


def test_many_waiting_receives_pause_reading() -> None:
    h = Harness(capacity=1, admission_timeout=30)
    ws = Socket(h)
    ws.accept()
    for n in range(70):
        ws.send(str(n).encode())
    assert ws.transport.producerState == "paused"
    for _ in range(400):
        ws.receives()
        h.clock.advance(0.25)
    assert ws.transport.producerState == "producing"


def test_shutdown_closes_with_1001() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.protocol.server_shutdown()
    assert close_code(ws.frames()[-1][1]) == 1001
    ws.lose()
    assert [d["code"] for d in ws.disconnects()] == [1001]


def test_shutdown_while_connecting_is_503() -> None:
    h = Harness()
    ws = Socket(h)
    ws.protocol.server_shutdown()
    assert ws.transport.value().startswith(b"HTTP/1.1 503 ")


def test_layer_reset_closes_with_1011() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    assert ws.protocol.layer_reset() == "websocket"
    assert close_code(ws.frames()[-1][1]) == 1011


def test_invalid_reply_is_logged_and_socket_kept() -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    ws.reply(text=5)
    ws.reply(text="fine")
    assert ws.frames() == [(1, b"fine")] and h.ctx.stats.invalid_replies == 1


def test_describe_keys_are_json_safe() -> None:
    h = Harness()
    ws = Socket(h)
    assert json.loads(json.dumps(sorted(k for k in ws.connect)))


@pytest.mark.parametrize("size", [1, 125, 1024, 1025, 5000])
def test_masked_frames_arriving_byte_by_byte_are_unmasked(size: int) -> None:
    h = Harness()
    ws = Socket(h)
    ws.accept()
    text = "é" * (size // 2) + "x" * (size % 2)  # two UTF-8 bytes per "é": size bytes
    payload = text.encode("utf-8")
    assert len(payload) == size
    wire = (client_frame(payload[: len(payload) // 2], fin=False)
            + client_frame(payload[len(payload) // 2:], opcode=0)
            + client_frame(b"ping data", opcode=9)
            + client_frame(b"\x00\x01\xff" * (size // 3 + 1), opcode=2))
    for index in range(len(wire)):
        ws.protocol.dataReceived(wire[index:index + 1])
    assert [m.get("text", m.get("bytes")) for m in ws.receives()] == [
        text, b"\x00\x01\xff" * (size // 3 + 1)]
    assert (10, b"ping data") in ws.frames()  # the pong carries the unmasked ping payload
    ws.protocol.dataReceived(close_frame(4001))
    assert ws.frames()[-1] == (8, b"\x0f\xa1")
