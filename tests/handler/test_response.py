"""channels_classic.handler.response: Django responses → http.response messages."""

from __future__ import annotations

import pytest
from django.core import signals
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from channels_classic.handler import CHUNK_SIZE, AsgiHandler
from channels_classic.handler.response import chunk_bytes, encode_response

from .helpers import assemble, header


@pytest.mark.parametrize(
    ("size", "pieces"),
    [
        (0, [0]),
        (1, [1]),
        (CHUNK_SIZE - 1, [CHUNK_SIZE - 1]),
        (CHUNK_SIZE, [CHUNK_SIZE]),
        (CHUNK_SIZE + 1, [CHUNK_SIZE, 1]),
        (2 * CHUNK_SIZE, [CHUNK_SIZE, CHUNK_SIZE]),
        (2 * CHUNK_SIZE + 7, [CHUNK_SIZE, CHUNK_SIZE, 7]),
    ],
)
def test_chunk_bytes_cuts_at_512k(size, pieces):
    data = bytes(index % 251 for index in range(size))
    chunks = list(AsgiHandler.chunk_bytes(data))
    assert [len(chunk) for chunk, _ in chunks] == pieces
    assert [last for _, last in chunks] == [False] * (len(pieces) - 1) + [True]
    assert b"".join(chunk for chunk, _ in chunks) == data


def test_chunk_size_is_512k_and_overridable():
    assert AsgiHandler.chunk_size == CHUNK_SIZE == 512 * 1024
    assert list(chunk_bytes(b"abcde", 2)) == [(b"ab", False), (b"cd", False), (b"e", True)]

    class Small(AsgiHandler):
        chunk_size = 3

    assert [chunk for chunk, _ in Small.chunk_bytes(b"abcdefg")] == [b"abc", b"def", b"g"]
    assert len(list(Small.encode_response(HttpResponse(b"abcdefg")))) == 3


def test_small_response_is_one_message():
    [message] = AsgiHandler.encode_response(HttpResponse("hi", status=201))
    assert message == {
        "status": 201,
        "headers": [[b"content-type", b"text/html; charset=utf-8"]],
        "content": b"hi",
        "more_content": False,
    }


def test_large_response_is_split_with_more_content():
    data = b"a" * CHUNK_SIZE + b"b" * CHUNK_SIZE + b"c"
    messages = list(AsgiHandler.encode_response(HttpResponse(data)))
    assert [len(message["content"]) for message in messages] == [CHUNK_SIZE, CHUNK_SIZE, 1]
    assert [message["more_content"] for message in messages] == [True, True, False]
    assert "status" in messages[0] and "status" not in messages[1]
    assert assemble(messages)[2] == data


def test_headers_lower_cased_latin1_and_cookies():
    response = HttpResponse("x")
    response["X-Custom-Header"] = "Value"
    response["X-Latin"] = "café"
    response.set_cookie("first", "1")
    response.set_cookie("second", "two", httponly=True, path="/p")
    [message] = AsgiHandler.encode_response(response)
    headers = message["headers"]
    assert all(name == name.lower() for name, _ in headers)
    assert all(isinstance(name, bytes) and isinstance(value, bytes) for name, value in headers)
    assert header(headers, b"x-custom-header") == [b"Value"]
    assert header(headers, b"x-latin") == ["café".encode("latin-1")]
    cookies = header(headers, b"set-cookie")
    assert len(cookies) == 2
    assert cookies[0] == b"first=1; Path=/"
    assert cookies[1].startswith(b"second=two;") and b"HttpOnly" in cookies[1]


def test_streaming_response_sends_headers_first_then_each_part():
    produced = []

    def parts():
        for index in range(3):
            produced.append(index)
            yield f"p{index}".encode()
        yield b""  # an empty part sends nothing

    messages = AsgiHandler.encode_response(StreamingHttpResponse(parts(), status=202))
    first = next(messages)
    assert first["status"] == 202 and first["content"] == b"" and first["more_content"]
    assert produced == []  # headers go out before the view's generator runs
    assert next(messages) == {"content": b"p0", "more_content": True}
    assert produced == [0]
    rest = list(messages)
    assert rest == [
        {"content": b"p1", "more_content": True},
        {"content": b"p2", "more_content": True},
        {"content": b"", "more_content": False},
    ]


def test_streaming_part_larger_than_a_chunk_is_split():
    big = b"q" * (CHUNK_SIZE + 5)
    messages = list(AsgiHandler.encode_response(StreamingHttpResponse([big])))
    assert [len(message["content"]) for message in messages] == [0, CHUNK_SIZE, 5, 0]


def test_async_streaming_is_driven_part_by_part():
    produced = []

    async def parts():
        for index in range(2):
            produced.append(index)
            yield f"a{index}".encode()

    messages = AsgiHandler.encode_response(StreamingHttpResponse(parts()))
    next(messages)
    assert next(messages)["content"] == b"a0"
    assert produced == [0]  # not collected up front
    assert [message["content"] for message in messages] == [b"a1", b""]


def test_file_response_in_512k_blocks(tmp_path):
    data = bytes(range(256)) * 5000  # ~1.2 MB
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    response = FileResponse(path.open("rb"))
    messages = list(AsgiHandler.encode_response(response))
    assert response.block_size == CHUNK_SIZE
    assert [len(message["content"]) for message in messages] == [
        0, CHUNK_SIZE, CHUNK_SIZE, len(data) - 2 * CHUNK_SIZE, 0
    ]
    status, headers, body = assemble(messages)
    assert status == 200 and body == data
    assert header(headers, b"content-length") == [str(len(data)).encode()]
    assert response.file_to_stream.closed


def test_file_response_keeps_an_explicit_block_size(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"z" * 10)
    response = FileResponse(path.open("rb"))
    response.block_size = 4
    messages = list(encode_response(response))
    assert [message["content"] for message in messages] == [b"", b"zzzz", b"zzzz", b"zz", b""]


def test_response_is_closed_once_encoded():
    finished = []

    def on_finished(**kwargs):
        finished.append(kwargs)

    response = HttpResponse("x")
    signals.request_finished.connect(on_finished)
    try:
        list(AsgiHandler.encode_response(response))
    finally:
        signals.request_finished.disconnect(on_finished)
    assert response.closed
    assert len(finished) == 1


def test_response_is_closed_when_encoding_is_abandoned():
    closed = []

    def parts():
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    response = StreamingHttpResponse(parts())
    messages = AsgiHandler.encode_response(response)
    next(messages)
    next(messages)
    messages.close()
    assert response.closed and closed == [True]
