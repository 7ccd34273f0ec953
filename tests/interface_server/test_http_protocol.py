"""Tests for interface_server.protocols.http on in-memory transports and a fake clock."""

from __future__ import annotations

import logging
import string
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interface_server.harness import Harness

GET = b"GET /a%20b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n"


def request(path: str = "/", method: str = "GET", headers: tuple[str, ...] = (),
            body: bytes = b"", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: example.com", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def respond(h: Harness, message: dict[str, Any], **reply: Any) -> None:
    h.reply(message["reply_channel"], reply)
    h.flush()


def test_request_message_and_response() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(GET)
    [message] = h.app_messages("http.request")
    assert message["reply_channel"].startswith(h.ctx.prefix)
    assert message == {
        "reply_channel": message["reply_channel"],
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a b",
        "query_string": b"x=1&y=%20",
        "root_path": "",
        "headers": [[b"host", b"example.com"], [b"x-dup", b"1"], [b"x-dup", b"2"]],
        "body": b"",
        "client": ["127.0.0.1", 40000],
        "server": ["127.0.0.1", 8000],
    }
    respond(h, message, status=200, headers=[[b"Content-Type", b"text/plain"]], content=b"hi")
    head, _, body = transport.value().partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"content-type: text/plain" in lines and b"content-length: 2" in lines
    assert any(line.startswith(b"date: ") for line in lines)
    assert body == b"hi"
    assert not transport.disconnecting  # keep-alive
    [(protocol_name, action, details)] = h.actions
    assert (protocol_name, action) == ("http", "complete")
    assert details["status"] == 200 and details["size"] == 2 and details["path"] == "/a b"
    assert h.app_messages("http.disconnect") == []  # finished normally: no disconnect


def test_keep_alive_uses_a_new_reply_channel_per_request() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/one"))
    [first] = h.app_messages("http.request")
    respond(h, first, status=200, content=b"1")
    protocol.dataReceived(request("/two"))
    [second] = h.app_messages("http.request")
    assert second["reply_channel"] != first["reply_channel"]
    h.reply(first["reply_channel"], {"status": 500})  # late message for a finished request
    assert h.ctx.stats.unknown_replies == 1
    respond(h, second, status=200, content=b"2")
    assert transport.value().count(b"HTTP/1.1 200 OK") == 2


def test_pipelined_requests_are_answered_in_order() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/one") + request("/two", method="POST", body=b"abc"))
    [first] = h.app_messages("http.request")
    assert first["path"] == "/one"
    assert h.app_messages("http.request") == []  # the second waits for the first response
    respond(h, first, status=200, content=b"first")
    [second] = h.app_messages("http.request")
    assert second["path"] == "/two" and second["body"] == b"abc"
    respond(h, second, status=201, content=b"second")
    data = transport.value()
    assert data.index(b"first") < data.index(b"201 Created") < data.index(b"second")


def test_pipelining_flood_pauses_reading() -> None:
    h = Harness(max_header_size=1024)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/one"))
    h.app_messages("http.request")
    protocol.dataReceived(request("/x") * 40)
    assert transport.producerState == "paused"


def test_http10_streaming_is_close_delimited() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/", version="1.0"))
    [message] = h.app_messages("http.request")
    assert message["http_version"] == "1.0"
    respond(h, message, status=200, content=b"a", more_content=True)
    respond(h, message, content=b"b")
    head, _, body = transport.value().partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and body == b"ab"
    assert transport.disconnecting


def test_http10_keep_alive_reuses_the_connection_when_the_body_is_framed() -> None:
    """As twisted.web did for Daphne 1.x (and ``ab -k`` expects): an HTTP/1.0 request with
    ``Connection: keep-alive`` keeps the connection when the response has a length."""
    h = Harness()
    protocol, transport = h.connect()
    keep = ("Connection: Keep-Alive",)
    protocol.dataReceived(request("/one", version="1.0", headers=keep))
    [one] = h.app_messages("http.request")
    protocol.dataReceived(request("/two", version="1.0", headers=keep))  # sent early: held
    assert h.app_messages("http.request") == []
    respond(h, one, status=200, content=b"first")
    head = transport.value().partition(b"\r\n\r\n")[0]
    assert b"connection: keep-alive" in head and b"content-length: 5" in head
    assert not transport.disconnecting
    [two] = h.app_messages("http.request")
    assert two["path"] == "/two" and two["http_version"] == "1.0"
    # A streamed response without a length can only end by closing the connection.
    respond(h, two, status=200, content=b"a", more_content=True)
    respond(h, two, content=b"b")
    assert transport.value().endswith(b"\r\n\r\nab") and transport.disconnecting
    assert transport.value().count(b"connection: keep-alive") == 1


@pytest.mark.parametrize("extra", [b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n", b"junk"])
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_bytes_after_a_last_request_are_ignored_not_an_error(extra: bytes, version: str) -> None:
    """After a request that ends the connection (HTTP/1.0, or "Connection: close"), more bytes
    must not kill the response being prepared (RFC 7230 6.6: ignore them)."""
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/last", version=version, headers=("Connection: close",)))
    [message] = h.app_messages("http.request")
    protocol.dataReceived(extra)
    assert transport.value() == b"" and not transport.disconnecting
    respond(h, message, status=200, content=b"ok")
    assert transport.value().startswith(b"HTTP/1.1 200 ") and transport.value().endswith(b"ok")
    assert transport.disconnecting and h.app_messages("http.request") == []
    assert h.ctx.stats.http_errors == {}


def test_http11_streaming_is_chunked_with_lowercase_header() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"abc", more_content=True)
    respond(h, message, content=b"de", more_content=True)
    respond(h, message, content=b"", more_content=False)
    head, _, body = transport.value().partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"


def test_head_response_has_no_body() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/", method="HEAD"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"content-length", b"5"]], content=b"hello")
    assert transport.value().endswith(b"\r\n\r\n")
    assert b"content-length: 5" in transport.value()


def test_chunked_request_body_is_assembled() -> None:
    h = Harness()
    protocol, _ = h.connect()
    protocol.dataReceived(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    protocol.dataReceived(b"3\r\nabc\r\n")
    assert h.app_messages("http.request") == []
    protocol.dataReceived(b"2\r\nde\r\n0\r\n\r\n")
    [message] = h.app_messages("http.request")
    assert message["body"] == b"abcde" and "body_channel" not in message


def test_large_body_streams_over_body_channel() -> None:
    h = Harness(body_chunk_size=1024)
    protocol, _ = h.connect()
    body = bytes(range(256)) * 12  # 3072 bytes
    protocol.dataReceived(request("/up", method="POST", body=body)[:-2000])
    [message] = h.app_messages("http.request")
    assert message["body"] == body[:1024]
    channel = message["body_channel"]
    assert channel.startswith("http.request.body?")
    protocol.dataReceived(body[-2000:])
    chunks = h.app_messages(channel)
    assert b"".join([message["body"]] + [c["content"] for c in chunks]) == body
    assert [c["more_content"] for c in chunks] == [True] * (len(chunks) - 1) + [False]
    respond(h, message, status=200)
    assert h.app_messages("http.disconnect") == []


def test_truncated_body_tells_the_app() -> None:
    h = Harness(body_chunk_size=1024)
    protocol, _transport = h.connect()
    protocol.dataReceived(request("/up", method="POST", body=b"x" * 5000)[:-1000])
    [message] = h.app_messages("http.request")
    protocol.connectionLost(None)
    chunks = h.app_messages(message["body_channel"])
    assert chunks[-1] == {"closed": True}
    assert h.app_messages("http.disconnect") == [
        {"reply_channel": message["reply_channel"], "path": "/up"}]


def test_small_truncated_body_never_reaches_the_app() -> None:
    h = Harness()
    protocol, _ = h.connect()
    protocol.dataReceived(request("/up", method="POST", body=b"x" * 100)[:-10])
    protocol.connectionLost(None)
    assert h.app_messages("http.request") == [] and h.app_messages("http.disconnect") == []


def test_content_length_over_limit_is_413_before_reading() -> None:
    h = Harness(max_body_size=10)
    protocol, transport = h.connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assert transport.disconnecting and h.app_messages("http.request") == []


def test_chunked_body_over_limit_is_413() -> None:
    h = Harness(max_body_size=10)
    protocol, transport = h.connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"8\r\n12345678\r\n8\r\n12345678\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")


def test_streamed_body_over_limit_is_413_and_the_app_is_told() -> None:
    """A chunked upload (no Content-Length to refuse up front) passes the limit after
    http.request left with a body_channel: 413, the body channel is closed, http.disconnect."""
    h = Harness(body_chunk_size=1024, max_body_size=4096)
    protocol, transport = h.connect()
    protocol.dataReceived(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    protocol.dataReceived(b"800\r\n" + b"a" * 2048 + b"\r\n")
    [message] = h.app_messages("http.request")
    assert message["body"] == b"a" * 1024
    protocol.dataReceived(b"c00\r\n" + b"b" * 3072 + b"\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ") and transport.disconnecting
    chunks = h.app_messages(message["body_channel"])
    assert chunks[-1] == {"closed": True}
    assert sum(len(c.get("content", b"")) for c in chunks) < 4096 - 1024
    assert h.app_messages("http.disconnect") == [
        {"reply_channel": message["reply_channel"], "path": "/up"}]
    assert [(d["status"], d["size"]) for _, _, d in h.actions] == [(413, 0)]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NOT A REQUEST\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET /%FF HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
        (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000, 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431),
    ],
)
def test_malformed_requests(data: bytes, status: int, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    protocol, transport = h.connect()
    with caplog.at_level(logging.INFO, logger="interface_server.http"):
        protocol.dataReceived(data)
    assert f"Bad request from 127.0.0.1:40000 → {status}" in caplog.text
    assert transport.value().startswith(f"HTTP/1.1 {status} ".encode())
    assert b"connection: close" in transport.value()
    assert transport.disconnecting
    assert h.app_messages("http.request") == []
    assert h.ctx.stats.http_errors == {status: 1}


def test_http_timeout_is_503_and_disconnect() -> None:
    h = Harness(http_timeout=5)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/never"))
    [message] = h.app_messages("http.request")
    h.clock.advance(4.9)
    assert transport.value() == b""
    h.clock.advance(0.2)
    assert transport.value().startswith(b"HTTP/1.1 503 ")
    assert h.app_messages("http.disconnect") == [
        {"reply_channel": message["reply_channel"], "path": "/never"}]
    h.reply(message["reply_channel"], {"status": 200})  # too late: dropped
    assert h.ctx.stats.unknown_replies == 1


def test_http_timeout_counts_from_the_end_of_a_streamed_upload() -> None:
    """A large body leaves in chunks while it arrives; an upload that keeps making progress
    for longer than --http-timeout is not cut: the app has its time once the body is in."""
    h = Harness(body_chunk_size=1024, http_timeout=5, idle_timeout=3)
    protocol, transport = h.connect()
    body = b"x" * 10000
    raw = request("/up", method="POST", body=body)
    head = raw[:-len(body)]
    protocol.dataReceived(head + body[:2000])
    [message] = h.app_messages("http.request")
    for offset in range(2000, 10000, 1000):  # 16 s of a slow but steady upload
        h.clock.advance(2)
        protocol.dataReceived(body[offset:offset + 1000])
    assert transport.value() == b""
    chunks = h.app_messages(message["body_channel"])
    assert chunks[-1]["more_content"] is False
    h.clock.advance(4.9)
    assert transport.value() == b""
    h.clock.advance(0.2)
    assert transport.value().startswith(b"HTTP/1.1 503 ")


def test_started_stream_is_never_cut_by_http_timeout() -> None:
    h = Harness(http_timeout=5)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/stream"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"a", more_content=True)
    h.clock.advance(60)
    respond(h, message, content=b"b", more_content=True)
    h.clock.advance(600)
    respond(h, message, content=b"c")
    assert transport.value().endswith(b"1\r\nc\r\n0\r\n\r\n")
    assert b"503" not in transport.value()


def test_client_leaving_before_the_response_sends_disconnect() -> None:
    h = Harness()
    protocol, _ = h.connect()
    protocol.dataReceived(request("/poll"))
    [message] = h.app_messages("http.request")
    protocol.connectionLost(None)
    assert h.app_messages("http.disconnect") == [
        {"reply_channel": message["reply_channel"], "path": "/poll"}]
    h.reply(message["reply_channel"], {"status": 200})
    assert h.ctx.stats.unknown_replies == 1
    assert h.actions == []  # no response ever started: nothing for the access log


def test_client_leaving_after_every_declared_byte_completes_the_request() -> None:
    """A streamed response with a content-length is complete for the client once those bytes
    are out, even if the app's last (empty) message has not come yet: the client may close
    then.  The request is logged as complete and the app gets no http.disconnect."""
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/file"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"content-length", b"6"]], content=b"abc",
            more_content=True)
    respond(h, message, content=b"def", more_content=True)
    assert transport.value().endswith(b"\r\n\r\nabcdef")
    protocol.connectionLost(None)
    [(_, action, details)] = h.actions
    assert (action, details["status"], details["size"]) == ("complete", 200, 6)
    assert h.app_messages("http.disconnect") == []
    assert h.ctx.stats.http_responses == 1
    respond(h, message, content=b"", more_content=False)  # the app's last message: dropped
    assert h.ctx.stats.unknown_replies == 1


def test_client_leaving_after_a_bodyless_head_completes_the_request() -> None:
    h = Harness()
    protocol, _ = h.connect()
    protocol.dataReceived(request("/", method="HEAD"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"content-length", b"100"]], content=b"x" * 10,
            more_content=True)
    protocol.connectionLost(None)
    assert [(d["status"], d["size"]) for _, _, d in h.actions] == [(200, 0)]
    assert h.app_messages("http.disconnect") == []


def test_client_leaving_mid_upload_abandons_the_request_even_after_a_full_response() -> None:
    h = Harness(body_chunk_size=1024)
    protocol, _ = h.connect()
    protocol.dataReceived(request("/up", method="POST", body=b"x" * 5000)[:-2000])
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"content-length", b"2"]], content=b"ok",
            more_content=True)
    protocol.connectionLost(None)
    assert h.app_messages(message["body_channel"])[-1] == {"closed": True}
    assert h.app_messages("http.disconnect") != []
    assert [(d["status"], d["size"]) for _, _, d in h.actions] == [(200, 2)]


def _cut_mid_stream(h: Harness, protocol: Any, transport: Any, message: dict[str, Any]) -> None:
    protocol.connectionLost(None)


def _second_response(h: Harness, protocol: Any, transport: Any, message: dict[str, Any]
                     ) -> None:
    respond(h, message, status=200, content=b"again")
    assert transport.aborted


def _slow_reader(h: Harness, protocol: Any, transport: Any, message: dict[str, Any]) -> None:
    transport.producer.pauseProducing()
    for _ in range(5):
        respond(h, message, content=b"x" * 300, more_content=True)
    assert transport.aborted


@pytest.mark.parametrize("length", [None, b"100000"])
@pytest.mark.parametrize("cut", [_cut_mid_stream, _second_response, _slow_reader])
def test_cut_responses_get_an_access_log_line_and_a_disconnect(length: bytes | None,
                                                               cut: Any) -> None:
    h = Harness(max_outbound_buffer=1000)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/stream"))
    [message] = h.app_messages("http.request")
    headers = [[b"content-length", length]] if length else []
    respond(h, message, status=200, headers=headers, content=b"abc", more_content=True)
    respond(h, message, content=b"de", more_content=True)
    cut(h, protocol, transport, message)
    protocol.connectionLost(None)
    [(_, action, details)] = h.actions
    assert (action, details["status"], details["path"]) == ("complete", 200, "/stream")
    assert details["size"] == 5  # what was actually sent, not what was promised
    assert h.app_messages("http.disconnect") == [
        {"reply_channel": message["reply_channel"], "path": "/stream"}]
    assert h.ctx.stats.http_responses == 0


def test_full_request_channel_waits_then_answers_503() -> None:
    h = Harness(capacity=1, admission_timeout=2)
    first, _ = h.connect()
    second, transport = h.connect()
    first.dataReceived(request("/1"))
    second.dataReceived(request("/2"))
    h.flush()
    assert h.sender.parked == 1
    h.clock.advance(1)
    assert transport.value() == b""  # still waiting for room
    for _ in range(20):
        h.clock.advance(0.25)
    assert transport.value().startswith(b"HTTP/1.1 503 ")
    assert h.ctx.stats.http_errors == {503: 1}


def test_full_request_channel_admits_when_room_appears() -> None:
    h = Harness(capacity=1, admission_timeout=10)
    first, _ = h.connect()
    second, transport = h.connect()
    first.dataReceived(request("/1"))
    second.dataReceived(request("/2"))
    h.flush()
    [one] = h.app_messages("http.request")
    h.clock.advance(0.25)
    [two] = h.app_messages("http.request")
    assert (one["path"], two["path"]) == ("/1", "/2")
    respond(h, two, status=200)
    assert transport.value().startswith(b"HTTP/1.1 200 ")


def test_client_leaving_while_parked_withdraws_the_request() -> None:
    h = Harness(capacity=1, admission_timeout=10)
    first, _ = h.connect()
    second, _ = h.connect()
    first.dataReceived(request("/1"))
    second.dataReceived(request("/2"))
    h.flush()
    second.connectionLost(None)
    assert [m["path"] for m in h.app_messages("http.request")] == ["/1"]
    h.clock.advance(1)
    assert h.app_messages("http.request") == [] and h.app_messages("http.disconnect") == []


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([{"content": b"chunk first"}], b"HTTP/1.1 500 "),
        ([{"status": "200"}], b"HTTP/1.1 500 "),
        ([{"status": 200, "headers": [[b"x-bad", b"a\r\nb"]]}], b"HTTP/1.1 500 "),
        ([{"status": 200, "headers": [[b"bad name", b"x"]]}], b"HTTP/1.1 500 "),
        ([{"status": 101}], b"HTTP/1.1 500 "),
    ],
)
def test_invalid_replies_before_start_are_500(replies: list[dict[str, Any]], expected: bytes
                                              ) -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    for reply in replies:
        h.reply(message["reply_channel"], reply)
    assert transport.value().startswith(expected) and transport.disconnecting


def test_second_response_cuts_the_connection() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"one", more_content=True)
    respond(h, message, status=200, content=b"two")
    assert transport.aborted and b"two" not in transport.value()
    assert h.app_messages("http.disconnect") != []


def test_more_content_than_declared_cuts_the_connection() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"content-length", b"2"]], content=b"toolong")
    assert transport.aborted


def test_unknown_reply_keys_are_ignored() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"ok", reply_channel="x", extra=1)
    assert transport.value().endswith(b"\r\n\r\nok")


def test_slow_reader_writes_are_held_then_released() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"a" * 10, more_content=True)
    written = len(transport.value())
    transport.producer.pauseProducing()  # what Twisted does when its buffer fills
    respond(h, message, content=b"b" * 10, more_content=True)
    assert len(transport.value()) == written
    transport.producer.resumeProducing()
    assert b"b" * 10 in transport.value()


def test_slow_reader_over_the_limit_is_cut() -> None:
    h = Harness(max_outbound_buffer=1000)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, content=b"a", more_content=True)
    transport.producer.pauseProducing()
    for _ in range(5):
        respond(h, message, content=b"x" * 300, more_content=True)
    assert transport.aborted
    assert h.app_messages("http.disconnect") != []


def test_idle_connection_is_closed_silently() -> None:
    h = Harness(idle_timeout=30)
    _protocol, transport = h.connect()
    h.clock.advance(29)
    assert not transport.disconnecting
    h.clock.advance(2)
    assert transport.disconnecting and transport.value() == b""


def test_activity_postpones_the_idle_timeout() -> None:
    h = Harness(idle_timeout=30)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    h.clock.advance(100)  # waiting for the app is not idleness
    respond(h, message, status=200)
    h.clock.advance(20)
    assert not transport.disconnecting
    h.clock.advance(11)
    assert transport.disconnecting


def test_slow_request_head_is_408() -> None:
    h = Harness(request_head_timeout=5, idle_timeout=60)
    protocol, transport = h.connect()
    for _ in range(4):
        protocol.dataReceived(b"G")
        h.clock.advance(1.5)
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_stalled_upload_is_408() -> None:
    h = Harness(idle_timeout=10)
    protocol, transport = h.connect()
    protocol.dataReceived(request("/", method="POST", body=b"x" * 100)[:-50])
    h.clock.advance(11)
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_expect_100_continue() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                          b"Expect: 100-continue\r\n\r\n")
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    protocol.dataReceived(b"abc")
    [message] = h.app_messages("http.request")
    assert message["body"] == b"abc"


def test_early_response_discards_the_rest_of_the_upload() -> None:
    h = Harness(body_chunk_size=1024)
    protocol, _transport = h.connect()
    protocol.dataReceived(request("/up", method="POST", body=b"x" * 4000)[:-2000])
    [message] = h.app_messages("http.request")
    respond(h, message, status=413, content=b"no")
    protocol.dataReceived(b"x" * 2000)
    protocol.dataReceived(request("/next"))
    [following] = h.app_messages("http.request")
    assert following["path"] == "/next"


def test_trusted_proxy_headers() -> None:
    h = Harness(proxy_headers=True)
    protocol, _ = h.connect(peer="127.0.0.1")
    protocol.dataReceived(request("/", headers=("X-Forwarded-For: 6.6.6.6, 1.2.3.4",
                                                "X-Forwarded-Proto: https",
                                                "X-Forwarded-Port: 443")))
    [message] = h.app_messages("http.request")
    assert message["client"] == ["1.2.3.4", 443] and message["scheme"] == "https"


def test_untrusted_proxy_headers_are_ignored() -> None:
    h = Harness(proxy_headers=True)
    protocol, _ = h.connect(peer="8.8.8.8")
    protocol.dataReceived(request("/", headers=("X-Forwarded-For: 1.2.3.4",
                                                "X-Forwarded-Proto: https")))
    [message] = h.app_messages("http.request")
    assert message["client"] == ["8.8.8.8", 40000] and message["scheme"] == "http"


def test_tls_and_unix_socket() -> None:
    h = Harness()
    secure, _ = h.connect(secure=True)
    secure.dataReceived(request("/"))
    unix, _ = h.connect(unix=True)
    unix.dataReceived(request("/"))
    first, second = h.app_messages("http.request")
    assert first["scheme"] == "https"
    assert second["client"] is None and second["server"] is None


@pytest.mark.parametrize(("enabled", "expected"), [(True, "/hdr path"), (False, "/flag")])
def test_root_path_header_only_when_enabled(enabled: bool, expected: str) -> None:
    h = Harness(root_path="/flag", root_path_header=enabled)
    protocol, _ = h.connect()
    protocol.dataReceived(request("/", headers=("Daphne-Root-Path: /hdr%20path",
                                                "X_Underscore: no")))
    [message] = h.app_messages("http.request")
    assert message["root_path"] == expected
    assert [name for name, _ in message["headers"]] == [b"host"]


def test_shutdown_closes_idle_and_finishes_busy_connections() -> None:
    h = Harness()
    idle, idle_transport = h.connect()
    busy, busy_transport = h.connect()
    busy.dataReceived(request("/"))
    [message] = h.app_messages("http.request")
    h.ctx.shutting_down = True
    idle.server_shutdown()
    busy.server_shutdown()
    assert idle_transport.disconnecting and not busy_transport.disconnecting
    respond(h, message, status=200, content=b"done")
    assert b"connection: close" in busy_transport.value() and busy_transport.disconnecting


def test_layer_reset_fails_waiting_requests() -> None:
    h = Harness()
    protocol, transport = h.connect()
    protocol.dataReceived(request("/"))
    h.app_messages("http.request")
    assert protocol.layer_reset() == "http"
    assert transport.value().startswith(b"HTTP/1.1 503 ")


_RESERVED = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "expect",
             "daphne-root-path"}
# Header names mix case and may contain "_" (those are dropped: CVE-2015-0219).
_TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1,
                 max_size=20).filter(lambda name: name.lower() not in _RESERVED)
_VALUE = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if 0x20 < c < 0x7F or c in (0x09, 0x20) or c >= 0x80).strip())
_PATH = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_QUERY = st.binary(max_size=30).map(
    lambda b: bytes(c for c in b if 0x21 <= c < 0x7F and c not in b"#"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"]),
    version=st.sampled_from(["1.0", "1.1"]),
    path=_PATH,
    safe=st.sampled_from(["/", "/:@!$&'()*+,;=~"]),
    query=_QUERY,
    headers=st.lists(st.tuples(_TOKEN, _VALUE), max_size=8),
    body=st.binary(max_size=64),
)
def test_request_encoding_property(method: str, version: str, path: str, safe: str,
                                   query: bytes, headers: list[tuple[str, bytes]],
                                   body: bytes) -> None:
    """Any well-formed request becomes the http.request message the ASGI 1.0 spec describes:
    upper-case method, percent-decoded UTF-8 path, raw query string, lower-cased header names
    in arrival order with duplicates kept (and names with "_" dropped), the whole body."""
    h = Harness()
    protocol, _ = h.connect()
    target = "/" + quote(path, safe=safe)
    raw = f"{method} {target}".encode() + (b"?" + query if query else b"")
    raw += f" HTTP/{version}\r\nHost: example.com\r\n".encode()
    for name, value in headers:
        raw += name.encode() + b": " + value + b"\r\n"
    raw += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    protocol.dataReceived(raw)
    [message] = h.app_messages("http.request")
    assert message["method"] == method and message["http_version"] == version
    assert message["path"] == "/" + path
    assert message["query_string"] == query
    assert message["body"] == body and "body_channel" not in message
    expected = [[b"host", b"example.com"]] + [
        [name.lower().encode(), value] for name, value in headers if "_" not in name
    ] + [[b"content-length", str(len(body)).encode()]]
    assert message["headers"] == expected
    assert message["client"] == ["127.0.0.1", 40000] and message["server"] == ["127.0.0.1", 8000]
    assert (message["scheme"], message["root_path"]) == ("http", "")


def test_each_reply_message_is_written_in_one_piece() -> None:
    h = Harness()
    protocol, transport = h.connect()
    writes: list[bytes] = []
    original = transport.write

    def write(data: bytes) -> None:
        writes.append(data)
        original(data)

    transport.write = write  # type: ignore[method-assign]
    protocol.dataReceived(request("/one"))
    [message] = h.app_messages("http.request")
    respond(h, message, status=200, headers=[[b"Content-Type", b"text/plain"]], content=b"hi")
    # Head and body in one write: one system call and one segment on a real socket.
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK")
    assert writes[0].endswith(b"\r\n\r\nhi")
    protocol.dataReceived(request("/stream"))
    [second] = h.app_messages("http.request")
    respond(h, second, status=200, content=b"first", more_content=True)
    respond(h, second, content=b"last")
    assert len(writes) == 3
    assert writes[1].startswith(b"HTTP/1.1 200 OK") and writes[1].endswith(b"5\r\nfirst\r\n")
    assert writes[2] == b"4\r\nlast\r\n0\r\n\r\n"  # last chunk and terminator together
    assert h.actions[-1][2]["size"] == 9
