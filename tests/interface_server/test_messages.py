"""Tests for interface_server.messages: building inbound and checking outbound messages."""

from __future__ import annotations

import string
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interface_server.errors import ClientError, InvalidReply
from interface_server.messages import (
    ResponseChunk,
    ResponseStart,
    build_websocket_receive,
    choose_subprotocol,
    clean_headers,
    decode_root_path,
    is_sendable_close_code,
    parse_http_reply,
    parse_ws_reply,
    split_target,
    unknown_keys,
)


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/", "/", b""),
        (b"/a%20b/c?x=1&y=%20", "/a b/c", b"x=1&y=%20"),
        (b"/caf%C3%A9?q=%C3%A9", "/café", b"q=%C3%A9"),
        (b"/a%2Fb", "/a/b", b""),
        (b"/path#frag", "/path", b""),
        (b"http://example.com/abs?q=1", "/abs", b"q=1"),
        (b"http://example.com", "/", b""),
        (b"*", "*", b""),
    ],
)
def test_split_target(target: bytes, path: str, query: bytes) -> None:
    assert split_target(target) == (path, query)


def test_split_target_rejects_invalid_utf8() -> None:
    with pytest.raises(ClientError) as info:
        split_target(b"/%FF%FE")
    assert info.value.status == 400


def test_clean_headers_lowercases_keeps_duplicates_and_drops_underscores() -> None:
    headers, root, dropped = clean_headers([
        (b"Host", b"x"), (b"X-Dup", b"1"), (b"x-dup", b"2"), (b"X_Forwarded_For", b"evil"),
        (b"Daphne-Root-Path", b"/pre%20fix"),
    ])
    assert headers == [[b"host", b"x"], [b"x-dup", b"1"], [b"x-dup", b"2"]]
    assert root == b"/pre%20fix"
    assert dropped == 1
    assert decode_root_path(root) == "/pre fix"


def test_websocket_receive_has_only_one_payload_key() -> None:
    text = build_websocket_receive("r!x", "/p", 3, "hi")
    binary = build_websocket_receive("r!x", "/p", 4, b"\x00")
    assert text == {"reply_channel": "r!x", "path": "/p", "order": 3, "text": "hi"}
    assert "text" not in binary and binary["bytes"] == b"\x00"


def test_parse_http_reply_start_and_chunk() -> None:
    start = parse_http_reply({"status": 200, "headers": [(b"X-A", b"1"), ["b", "2"]],
                              "content": b"hi", "more_content": True})
    assert start == ResponseStart(200, ((b"x-a", b"1"), (b"b", b"2")), b"hi", True)
    assert parse_http_reply({"content": b"x"}) == ResponseChunk(b"x", False)
    assert parse_http_reply({"status": 204, "headers": {b"a": b"b"}}).headers == (  # type: ignore[union-attr]
        (b"a", b"b"),)
    assert parse_http_reply({"status": 200, "content": None}).content == b""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "message",
    [
        "not a dict",
        {"status": "200"},
        {"status": True},
        {"status": 42},
        {"status": 200, "headers": "x"},
        {"status": 200, "headers": [(b"a",)]},
        {"status": 200, "headers": [(1, b"x")]},
        {"status": 200, "headers": [("é€", b"x")]},
        {"status": 200, "content": "text"},
        {"content": b"x", "more_content": "yes"},
    ],
)
def test_parse_http_reply_rejects(message: object) -> None:
    with pytest.raises(InvalidReply):
        parse_http_reply(message)


def test_unknown_keys() -> None:
    assert unknown_keys({"status": 1, "reply_channel": "x"}, frozenset({"status"})) == [
        "reply_channel"]


@pytest.mark.parametrize(
    ("message", "accept", "data", "close"),
    [
        ({"accept": True}, True, None, None),
        ({"accept": False}, False, None, None),
        ({"text": "hi"}, None, "hi", None),
        ({"bytes": b""}, None, b"", None),
        ({"text": "", "close": True}, None, "", 1000),
        ({"close": 4001}, None, None, 4001),
        ({"close": False, "text": None}, None, None, None),
        ({"close": 0}, None, None, None),
        # A consumer forwarding a received message as is: extra keys are ignored.
        ({"reply_channel": "a!b", "path": "/", "order": 3, "text": "fw"}, None, "fw", None),
    ],
)
def test_parse_ws_reply(message: dict[str, object], accept: bool | None, data: object,
                        close: int | None) -> None:
    reply = parse_ws_reply(message)
    assert (reply.accept, reply.data, reply.close, reply.ignored) == (accept, data, close, None)


def test_parse_ws_reply_both_text_and_bytes_is_ignored() -> None:
    reply = parse_ws_reply({"text": "a", "bytes": b"b", "accept": True})
    assert reply.ignored is not None and reply.data is None


@pytest.mark.parametrize(
    "message",
    ["x", {"text": 1}, {"bytes": "s"}, {"close": 1005}, {"close": 99999}, {"close": "yes"},
     {"accept": "yes"}, {"subprotocol": 3}],
)
def test_parse_ws_reply_rejects(message: object) -> None:
    with pytest.raises(InvalidReply):
        parse_ws_reply(message)


def test_sendable_close_codes() -> None:
    assert all(is_sendable_close_code(c) for c in (1000, 1001, 1011, 1013, 3000, 4999))
    assert not any(is_sendable_close_code(c) for c in (999, 1004, 1005, 1006, 1015, 2000, 5000))


def test_choose_subprotocol() -> None:
    assert choose_subprotocol(["a", "b"], ["b", "a"], None) == ("a", None)
    assert choose_subprotocol(["a", "b"], [], "b") == ("b", None)
    chosen, warning = choose_subprotocol(["a"], ["a"], "zzz")
    assert chosen == "a" and warning is not None and "zzz" in warning
    assert choose_subprotocol([], ["a"], None) == (None, None)


# -- properties -----------------------------------------------------------------------------------

_HEADER_NAME = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1,
                       max_size=12).map(str.encode)


@given(path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
       safe=st.sampled_from(["/", "/:@!$&'()*+,;=~", ""]),
       query=st.binary(max_size=30).map(lambda b: bytes(c for c in b if c not in b"#")))
def test_split_target_decodes_any_percent_encoded_utf8_path(path: str, safe: str,
                                                            query: bytes) -> None:
    target = b"/" + quote(path, safe=safe).encode("ascii")
    assert split_target(target + (b"?" + query if query else b"")) == ("/" + path, query)


@given(raw=st.binary(min_size=1, max_size=20))
def test_split_target_refuses_percent_encoded_bytes_that_are_not_utf8(raw: bytes) -> None:
    target = b"/" + quote_from_bytes(raw, safe="").encode("ascii")
    try:
        expected = "/" + raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(ClientError) as info:
            split_target(target)
        assert info.value.status == 400
    else:
        assert split_target(target) == (expected, b"")


@given(raw=st.lists(st.tuples(_HEADER_NAME, st.binary(max_size=10)), max_size=12))
def test_clean_headers_keeps_order_and_duplicates_and_drops_underscores(
    raw: list[tuple[bytes, bytes]],
) -> None:
    headers, root_path, dropped = clean_headers(raw)
    assert headers == [[name.lower(), value] for name, value in raw if b"_" not in name]
    assert dropped == sum(1 for name, _ in raw if b"_" in name)
    assert root_path is None
