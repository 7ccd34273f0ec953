"""Real-socket WebSocket tests against a running ``python -m interface_server`` process."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.interface_server.e2e import RawWebSocket, RunningServer, raw_exchange, start_server
from tests.interface_server.harness import upgrade_request

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("ws"), "--websocket-max-message-size", "64K",
                           "--ws-protocol", "chat", "graphql-ws")
    try:
        yield running
    finally:
        running.kill()


@contextlib.contextmanager
def client(url: str, **kwargs: Any) -> Iterator[websocket.WebSocket]:
    """A websocket-client connection whose socket is always closed afterwards."""
    ws = websocket.create_connection(url, timeout=10, **kwargs)
    try:
        yield ws
    finally:
        with contextlib.suppress(Exception):
            ws.close(timeout=1)
        ws.shutdown()


def disconnect_for(server: RunningServer, reply_channel: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in server.messages("websocket.disconnect"):
            if message["reply_channel"] == reply_channel:
                return message
        time.sleep(0.02)
    raise AssertionError(f"no websocket.disconnect for {reply_channel}")


def connect_message(server: RunningServer, path: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [m for m in server.messages("websocket.connect") if m["path"] == path]
        if found:
            return found[-1]
        time.sleep(0.02)
    raise AssertionError(f"no websocket.connect for {path}")


def test_echo_flows_with_a_real_client(server: RunningServer) -> None:
    with client(server.ws_url("/ws/echo")) as ws:
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send_binary(b"\x00\x01")
        assert ws.recv() == b"\x00\x01"
        ws.send("order")
        assert ws.recv() == "3"
        ws.send("forward")  # the app replies with the whole received message
        assert ws.recv() == "forward"
        ws.send("both")  # text and bytes in one reply: ignored, the next one arrives
        assert ws.recv() == "after-both"
        ws.send("empty")
        assert ws.recv() == ""
        ws.send("empty-bytes")
        assert ws.recv() == b""
        ws.send("accept")
        assert ws.recv() == "still-open"
        ws.send("close:4005")
        opcode, payload = ws.recv_data_frame(True)
        assert opcode == 8 and struct.unpack("!H", payload.data[:2])[0] == 4005


def test_subprotocols_from_server_list_and_from_the_app(server: RunningServer) -> None:
    with client(server.ws_url("/ws/echo"), subprotocols=["x", "graphql-ws"]) as ws:
        assert ws.getsubprotocol() == "graphql-ws"
    with client(server.ws_url("/ws/subprotocol?p=x"), subprotocols=["x", "chat"]) as ws:
        assert ws.getsubprotocol() == "x"


def test_connect_message_and_handshake_held(server: RunningServer) -> None:
    with client(server.ws_url("/ws/slow-accept?delay=0.5"),
                header=["X-Dup: 1", "X-Dup: 2"], origin="null"):
        pass
    message = connect_message(server, "/ws/slow-accept")
    assert message["scheme"] == "ws" and message["root_path"] == "" and message["order"] == 0
    assert message["query_string"] == b"delay=0.5"
    headers = message["headers"]
    assert [b"x-dup", b"1"] in headers and [b"x-dup", b"2"] in headers  # type: ignore[operator]
    assert [b"origin", b"null"] in headers  # type: ignore[operator]


@pytest.mark.parametrize("path", ["/ws/reject", "/ws/accept-false"])
def test_reject_is_403(server: RunningServer, path: str) -> None:
    raw = RawWebSocket(server, path)
    assert raw.head.startswith(b"HTTP/1.1 403 ")
    raw.close()


def test_invalid_upgrade_request_is_400_and_others_are_served(server: RunningServer) -> None:
    with server.connect() as sock:
        answer = raw_exchange(sock, b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                    b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert server.wait_log(r"Refused WebSocket handshake from 127\.0\.0\.1:\d+ for /ws/echo "
                           r"→ 400: HTTP Sec-WebSocket-Key header missing") is not None
    with client(server.ws_url("/ws/echo")) as ws:
        ws.send("still serving")
        assert ws.recv() == "still serving"


def test_implicit_accept_and_accept_with_close(server: RunningServer) -> None:
    with client(server.ws_url("/ws/implicit")) as ws:
        assert ws.recv() == "hello"
    raw = RawWebSocket(server, "/ws/accept-close")
    assert raw.accepted
    assert raw.recv() == (1, b"bye")
    assert raw.recv_close_code() == 4001
    raw.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"payload": b"x" * 70000, "opcode": 2}, 1009),
        ({"payload": b"\xc3\x28 invalid"}, 1007),
        ({"payload": b"x", "opcode": 5}, 1002),
        ({"payload": b"x", "masked": False}, 1002),
    ],
)
def test_bad_frames_get_the_right_close_code_and_a_disconnect(
    server: RunningServer, frame: dict[str, object], code: int
) -> None:
    raw = RawWebSocket(server, "/ws/echo")
    assert raw.accepted
    channel = connect_message(server, "/ws/echo")["reply_channel"]
    raw.send(**frame)  # type: ignore[arg-type]
    assert raw.recv_close_code() == code
    raw.close()
    assert disconnect_for(server, str(channel))["code"] == code


def test_abrupt_tcp_close_is_1006(server: RunningServer) -> None:
    raw = RawWebSocket(server, "/ws/abrupt")
    assert raw.accepted
    channel = connect_message(server, "/ws/abrupt")["reply_channel"]
    raw.send(b"one")
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # RST, no close frame
    message = disconnect_for(server, str(channel))
    assert message["code"] == 1006 and message["order"] == 2


def test_client_close_code_reaches_the_app(server: RunningServer) -> None:
    raw = RawWebSocket(server, "/ws/clientclose")
    channel = connect_message(server, "/ws/clientclose")["reply_channel"]
    raw.send(struct.pack("!H", 4321), opcode=8)
    assert raw.recv_close_code() == 4321  # echoed
    raw.close()
    assert disconnect_for(server, str(channel))["code"] == 4321


def test_server_push_flood_to_a_fast_client(server: RunningServer) -> None:
    with client(server.ws_url("/ws/echo")) as ws:
        ws.send("flood:200:1000")
        for _ in range(200):
            assert ws.recv() == b"f" * 1000


def test_timeouts(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--websocket_timeout", "1", "--websocket_connect_timeout",
                           "0.5", "--ping-interval", "0.3", "--ping-timeout", "0.4")
    try:
        never = RawWebSocket(running, "/ws/never")
        assert never.head.startswith(b"HTTP/1.1 403 ")  # connect timeout
        never.close()
        # A client that answers pings (websocket-client does) lives until websocket_timeout.
        with client(running.ws_url("/ws/echo")) as ws:
            started = time.monotonic()
            opcode, frame = ws.recv_data_frame(True)
            while opcode != 8:
                opcode, frame = ws.recv_data_frame(True)
            assert struct.unpack("!H", frame.data[:2])[0] == 1000
            assert 0.8 < time.monotonic() - started < 5
        # A raw client that never answers a ping is dropped after ping-interval + ping-timeout.
        silent = RawWebSocket(running, "/ws/silent")
        channel = connect_message(running, "/ws/silent")["reply_channel"]
        assert silent.recv() is not None  # the ping
        assert silent.recv_close_code() is None  # then the TCP connection is cut
        silent.close()
        assert disconnect_for(running, str(channel))["code"] == 1006
        assert disconnect_for(running, str(connect_message(running, "/ws/never")["reply_channel"])
                              )["code"] == 1006
    finally:
        running.kill()


def test_256_websockets_at_default_capacity_are_all_served(tmp_path: Path) -> None:
    """256 handshakes arrive while the app is paused (capacity 100): all are accepted once it
    resumes, and each then echoes, with no 1013 or 503."""
    running = start_server(tmp_path, "-v", "2")
    results: list[object] = [None] * 256
    try:
        running.control("/pause")

        def one(index: int) -> None:
            try:
                with client(running.ws_url(f"/ws/n{index}")) as ws:
                    ws.settimeout(60)
                    ws.send(f"hi {index}")
                    results[index] = ws.recv()
            except Exception as exc:
                results[index] = exc

        threads = [threading.Thread(target=one, args=(i,)) for i in range(256)]
        for thread in threads:
            thread.start()
        assert running.wait_log("Channel websocket.connect is full", timeout=30) is not None
        time.sleep(0.5)  # let the rest of the burst arrive and queue up
        running.control("/resume")
        for thread in threads:
            thread.join(90)
        assert results == [f"hi {i}" for i in range(256)]
    finally:
        running.kill()


def test_true_overload_refuses_handshakes_503_and_closes_sockets_1013(tmp_path: Path) -> None:
    """Capacity 10 and --admission-timeout 0.5 with the app paused: a socket whose 11th frame
    finds no room is closed with 1013, and the 11th handshake gets 503.  Once the app resumes
    it gets the ten frames in order, a websocket.disconnect with 1013, and the ten held
    handshakes are accepted."""
    running = start_server(tmp_path, "--admission-timeout", "0.5",
                           env={"IS_TEST_CAPACITY": "10"})
    sockets: list[socket.socket] = []
    try:
        busy = RawWebSocket(running, "/ws/busy")
        assert busy.accepted
        channel = connect_message(running, "/ws/busy")["reply_channel"]
        running.control("/pause")
        for n in range(15):
            busy.send(f"m{n}".encode())
        assert busy.recv_close_code() == 1013
        busy.close()
        for n in range(11):
            sock = running.connect()
            sock.sendall(upgrade_request(f"/ws/held{n}"))
            sockets.append(sock)
        assert running.wait_log(r"Refusing WebSocket /ws/held\d+: websocket.connect not "
                                r"accepted by the layer") is not None
        running.control("/resume")
        heads = [sock.recv(4096).split(b"\r\n", 1)[0] for sock in sockets]
        assert sorted(heads) == [b"HTTP/1.1 101 Switching Protocols"] * 10 + [
            b"HTTP/1.1 503 Service Unavailable"]
        assert disconnect_for(running, str(channel))["code"] == 1013
        orders = [m["order"] for m in running.messages("websocket.receive")
                  if m["reply_channel"] == channel]
        assert orders == list(range(1, 11))
    finally:
        for sock in sockets:
            sock.close()
        running.kill()


def test_shutdown_closes_websockets_with_1001(tmp_path: Path) -> None:
    running = start_server(tmp_path)
    raw = RawWebSocket(running, "/ws/echo")
    assert raw.accepted
    running.process.send_signal(15)
    assert raw.recv_close_code() == 1001
    raw.send(struct.pack("!H", 1001), opcode=8)
    assert running.process.wait(15) == 0
    raw.close()
    running.kill()


def test_websocket_client_that_does_not_read_is_closed_1013(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--max-outbound-buffer", "256K")
    try:
        raw = RawWebSocket(running, "/ws/echo")
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        channel = connect_message(running, "/ws/echo")["reply_channel"]
        raw.send(b"flood:600:65536")  # ~40 MB that this client never reads
        assert disconnect_for(running, str(channel))["code"] == 1013
        assert running.wait_log("the client does not read") is not None
        raw.close()
    finally:
        running.kill()
