"""The HTTP handler against the real Redis layer (a redis-server started by the fixtures)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from channels_classic.layers import Delivery
from channels_classic.layers.redis import RedisChannelLayer
from channels_classic.routing import Router
from worker.dispatch import Outcome, dispatch

from .helpers import REPLY_PREFIX, assemble, request_content
from .test_body import _multipart

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_layer(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=0.05)
    yield layer
    layer.close()


def router():
    router = Router([])
    router.check_default()
    return router


def replies_from(layer):
    """Read the whole response from the reply channel, as the interface server would."""
    replies = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for delivery in layer.fetch([REPLY_PREFIX], block=True, max_messages=50):
            replies.append(delivery.content)
            if not delivery.content["more_content"]:
                return replies
    raise AssertionError(f"incomplete response: {replies!r}")


def test_view_through_redis(redis_layer):
    result = dispatch(Delivery("http.request", request_content("/hello/")), redis_layer, router())
    assert result.outcome is Outcome.CONSUMED
    status, headers, body = assemble(replies_from(redis_layer))
    assert (status, body) == (200, b"Hello /hello/")
    assert all(isinstance(name, bytes) for name, _ in headers)


def test_large_response_chunks_fit_redis_messages(redis_layer):
    size = 1_300_000
    content = request_content("/big/", query_string=f"size={size}".encode())
    dispatch(Delivery("http.request", content), redis_layer, router())
    replies = replies_from(redis_layer)
    assert len(replies) == 3
    assert assemble(replies)[2] == b"x" * size


def test_multipart_upload_over_a_redis_body_channel(redis_layer, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    file_bytes = bytes(range(256)) * 1000
    body = _multipart(b"B0undary", file_bytes)
    body_channel = redis_layer.new_channel("http.request.body?")
    pieces = [body[index:index + 100_000] for index in range(50_000, len(body), 100_000)]
    for index, piece in enumerate(pieces):
        redis_layer.send(body_channel, {"content": piece,
                                        "more_content": index < len(pieces) - 1})
    content = request_content(
        "/upload/", method="POST", body=body[:50_000], body_channel=body_channel,
        headers=[[b"host", b"testserver"],
                 [b"content-type", b"multipart/form-data; boundary=B0undary"],
                 [b"content-length", str(len(body)).encode()]],
    )
    dispatch(Delivery("http.request", content), redis_layer, router())
    status, _, reply = assemble(replies_from(redis_layer))
    assert status == 200
    photo = json.loads(reply)["files"]["photo"]
    assert photo["sha256"] == hashlib.sha256(file_bytes).hexdigest()
    assert photo["class"] == "TemporaryUploadedFile"


def test_body_timeout_over_redis(redis_layer, settings):
    settings.CHANNELS_HTTP_BODY_TIMEOUT = 0.2
    body_channel = redis_layer.new_channel("http.request.body?")
    content = request_content("/echo/", method="POST", body_channel=body_channel)
    dispatch(Delivery("http.request", content), redis_layer, router())
    assert assemble(replies_from(redis_layer))[0] == 408


def test_full_redis_reply_channel_gives_up(redis_url, settings, caplog):
    settings.CHANNELS_HTTP_REPLY_TIMEOUT = 0.2
    layer = RedisChannelLayer(hosts=[redis_url], process_channel_capacity=1)
    try:
        content = request_content("/big/", query_string=b"size=1100000")
        result = dispatch(Delivery("http.request", content), layer, router())
        assert result.outcome is Outcome.CONSUMED
        assert "Gave up sending an HTTP response" in caplog.text
        [first] = layer.fetch([REPLY_PREFIX], max_messages=10)
        assert first.content["status"] == 200 and first.content["more_content"] is True
    finally:
        layer.close()
