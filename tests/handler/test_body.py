"""Request bodies: inline, chunked over body_channel, timeouts, aborts and Django's limits."""

from __future__ import annotations

import hashlib
import json
import logging
import threading

import pytest
from django.core import signals

from channels_classic.exceptions import RequestAborted, RequestTimeout
from channels_classic.handler import AsgiHandler, AsgiRequest, BadRequestMessage
from channels_classic.handler.body import receive_body

from .helpers import assemble, message_for, request_content


def handle(layer, content):
    return assemble(list(AsgiHandler()(message_for(layer, content))))


def send_chunks(layer, channel, chunks, final=True):
    for index, chunk in enumerate(chunks):
        layer.send(channel, {"content": chunk,
                             "more_content": not (final and index == len(chunks) - 1)})


def post(path, body_channel=None, body=b"", content_type=b"application/octet-stream",
         length=None, **overrides):
    headers = [[b"host", b"testserver"], [b"content-type", content_type]]
    if length is not None:
        headers.append([b"content-length", str(length).encode()])
    return request_content(path, method="POST", body=body, body_channel=body_channel,
                           headers=headers, **overrides)


def test_inline_body(layer):
    status, _, body = handle(layer, post("/echo/", body=b"inline body", length=11))
    assert (status, body) == (200, b"inline body")


def test_body_from_body_channel_is_appended_in_order(layer):
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"-one", b"-two", b"-three"])
    status, _, body = handle(layer, post("/echo/", channel, body=b"start", length=18))
    assert (status, body) == (200, b"start-one-two-three")


def test_chunks_sent_after_the_request_are_waited_for(layer):
    channel = layer.new_channel("http.request.body?")
    # The worker blocks on the body channel until the interface server sends the rest.
    timer = threading.Timer(0.1, send_chunks, (layer, channel, [b" later"]))
    timer.start()
    try:
        status, _, body = handle(layer, post("/echo/", channel, body=b"sooner", length=12))
    finally:
        timer.join()
    assert (status, body) == (200, b"sooner later")


def test_messages_after_the_last_chunk_are_ignored(layer):
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"a", b"b"])
    layer.send(channel, {"content": b"ignored"})
    _, _, body = handle(layer, post("/echo/", channel))
    assert body == b"ab"


def test_body_timeout_is_a_408(layer, settings, caplog):
    settings.CHANNELS_HTTP_BODY_TIMEOUT = 0.1
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"partial"], final=False)
    status, _, body = handle(layer, post("/echo/", channel))
    assert status == 408
    assert b"not received in time" in body
    assert "408 for the request on http.response.test!conn1" in caplog.text


def test_request_timeout_attribute_overrides_the_setting(layer, settings):
    settings.CHANNELS_HTTP_BODY_TIMEOUT = 3600

    class Impatient(AsgiRequest):
        body_receive_timeout = 0.05

    class Handler(AsgiHandler):
        request_class = Impatient

    channel = layer.new_channel("http.request.body?")
    replies = list(Handler()(message_for(layer, post("/echo/", channel))))
    assert assemble(replies)[0] == 408


def test_closed_chunk_aborts_without_a_reply(layer, caplog):
    caplog.set_level(logging.INFO, logger="channels_classic.handler")
    finished = []

    def on_finished(**kwargs):
        finished.append(kwargs)

    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"partial"], final=False)
    layer.send(channel, {"closed": True})
    signals.request_finished.connect(on_finished)
    try:
        replies = list(AsgiHandler()(message_for(layer, post("/echo/", channel))))
    finally:
        signals.request_finished.disconnect(on_finished)
    assert replies == []
    assert len(finished) == 1  # stale DB connections are still cleaned up
    assert "abandoned" in caplog.text


def test_malformed_chunk_is_a_400(layer, caplog):
    channel = layer.new_channel("http.request.body?")
    layer.send(channel, {"content": "text, not bytes"})
    status, _, _ = handle(layer, post("/echo/", channel))
    assert status == 400
    assert "Body chunk 'content' must be bytes" in caplog.text


def test_receive_body_unit(layer):
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"x" * 10, b"y" * 10])
    with receive_body(layer, channel, b"s", timeout=1, spool_size=5) as spooled:
        assert spooled.read() == b"s" + b"x" * 10 + b"y" * 10
        assert spooled._rolled  # over spool_size: on disk


def test_receive_body_errors_close_the_spool(layer):
    channel = layer.new_channel("http.request.body?")
    layer.send(channel, {"closed": True})
    with pytest.raises(RequestAborted):
        receive_body(layer, channel, b"", timeout=1, spool_size=5)
    clock = iter([0.0, 0.0, 10.0])
    with pytest.raises(RequestTimeout):
        receive_body(layer, channel, b"", timeout=1, spool_size=5, clock=lambda: next(clock))
    layer.send(channel, {"content": 5})
    with pytest.raises(BadRequestMessage):
        receive_body(layer, channel, b"", timeout=1, spool_size=5)


def test_request_built_outside_the_handler_reads_its_body_lazily(layer):
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"=lazy"])
    request = AsgiRequest(message_for(layer, post("/echo/", channel, body=b"body")))
    assert request.body == b"body=lazy"
    request.close()


def test_body_channel_needs_a_layer():
    request = AsgiRequest(post("/echo/", "http.request.body?abc"))
    with pytest.raises(BadRequestMessage, match="without a channel layer"):
        request.load_body()


# -- Django's limits ---------------------------------------------------------------------------


def test_data_upload_max_memory_size_rejects_by_content_length(layer, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    status, _, _ = handle(layer, post("/echo/", body=b"x" * 100, length=100))
    assert status == 400
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in caplog.text  # Django's own RequestDataTooBig


def test_data_upload_max_memory_size_without_content_length(layer, settings):
    # A chunked upload announces no length; the spooled body's real size is checked instead.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"y" * 50, b"y" * 50])
    status, _, _ = handle(layer, post("/echo/", channel))
    assert status == 400


def test_body_under_the_limit_passes(layer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    status, _, body = handle(layer, post("/echo/", body=b"z" * 100, length=100))
    assert (status, body) == (200, b"z" * 100)


def test_urlencoded_form(layer):
    channel = layer.new_channel("http.request.body?")
    send_chunks(layer, channel, [b"&b=caf%C3%A9"])
    status, _, body = handle(layer, post(
        "/post/", channel, body=b"a=1&a=2", length=19,
        content_type=b"application/x-www-form-urlencoded",
    ))
    assert status == 200
    assert json.loads(body) == {"a": ["1", "2"], "b": ["café"]}


def _multipart(boundary: bytes, file_bytes: bytes) -> bytes:
    return b"".join([
        b"--" + boundary + b"\r\n",
        b'Content-Disposition: form-data; name="title"\r\n\r\n',
        b"holiday\r\n",
        b"--" + boundary + b"\r\n",
        b'Content-Disposition: form-data; name="photo"; filename="photo.bin"\r\n',
        b"Content-Type: application/octet-stream\r\n\r\n",
        file_bytes + b"\r\n",
        b"--" + boundary + b"--\r\n",
    ])


@pytest.mark.parametrize(("upload_size", "on_disk"), [(200_000, True), (500, False)])
def test_multipart_upload_goes_through_upload_handlers(layer, settings, upload_size, on_disk):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    file_bytes = bytes(range(256)) * (upload_size // 256) + b"\x00" * (upload_size % 256)
    body = _multipart(b"BOUNDARY42", file_bytes)
    channel = layer.new_channel("http.request.body?")
    pieces = [body[index:index + 30_000] for index in range(30_000, len(body), 30_000)]
    if pieces:
        send_chunks(layer, channel, pieces)
    else:
        send_chunks(layer, channel, [b""])
    status, _, reply = handle(layer, post(
        "/upload/", channel, body=body[:30_000], length=len(body),
        content_type=b"multipart/form-data; boundary=BOUNDARY42",
    ))
    assert status == 200
    result = json.loads(reply)
    assert result["fields"] == {"title": ["holiday"]}
    photo = result["files"]["photo"]
    assert photo["size"] == upload_size
    assert photo["sha256"] == hashlib.sha256(file_bytes).hexdigest()
    # Above FILE_UPLOAD_MAX_MEMORY_SIZE both the raw body and the upload live on disk.
    assert photo["on_disk"] is on_disk
    assert photo["class"] == ("TemporaryUploadedFile" if on_disk else "InMemoryUploadedFile")
    assert result["body_spooled_to_disk"] is on_disk
