"""ViewConsumer end to end through worker.dispatch with the in-memory layer."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import signals
from django.http import HttpResponse

from channels_classic.handler import AsgiHandler, ViewConsumer
from channels_classic.handler.consumer import send_reply
from channels_classic.layers import ChannelFull, Delivery, InMemoryChannelLayer, MessageTooLarge
from channels_classic.routing import Router, route
from worker.dispatch import Outcome, dispatch

from . import views
from .helpers import REPLY_PREFIX, assemble, drain, request_content


def default_router():
    router = Router([])
    router.check_default()
    return router


def test_view_consumer_is_the_default_http_route(layer):
    result = dispatch(Delivery("http.request", request_content("/hello/")), layer,
                      default_router())
    assert result.outcome is Outcome.CONSUMED
    assert "ViewConsumer" in result.consumer
    status, headers, body = assemble(drain(layer))
    assert (status, body) == (200, b"Hello /hello/")
    assert [b"content-length", b"13"] in headers  # CommonMiddleware ran


def test_404_and_500_through_dispatch(layer):
    router = default_router()
    dispatch(Delivery("http.request", request_content("/missing/")), layer, router)
    assert assemble(drain(layer))[0] == 404
    result = dispatch(Delivery("http.request", request_content("/broken/")), layer, router)
    assert result.outcome is Outcome.CONSUMED  # Django answered 500; the consumer did its job
    status, _, body = assemble(drain(layer))
    assert (status, body) == (500, b"custom 500 page")


def test_malformed_request_through_dispatch_is_answered_400(layer):
    result = dispatch(Delivery("http.request", request_content(method=None)), layer,
                      default_router())
    assert result.outcome is Outcome.CONSUMED
    assert assemble(drain(layer))[0] == 400


def test_response_later_through_dispatch_sends_nothing(layer):
    result = dispatch(Delivery("http.request", request_content("/later/")), layer,
                      default_router())
    assert result.outcome is Outcome.CONSUMED
    assert drain(layer) == []


def test_large_response_arrives_in_chunks(layer):
    size = 1_300_000
    content = request_content("/big/", query_string=f"size={size}".encode())
    dispatch(Delivery("http.request", content), layer, default_router())
    replies = drain(layer)
    assert len(replies) == 3
    assert assemble(replies)[2] == b"x" * size


def test_streaming_is_sent_as_produced_not_buffered(layer):
    seen_by_part = {}

    def between_parts(index):
        # What the interface server could already read when the view produces part `index`.
        seen_by_part[index] = [reply.get("content") for reply in drain(layer)]

    views.hooks["between_parts"] = between_parts
    dispatch(Delivery("http.request", request_content("/stream/")), layer, default_router())
    assert seen_by_part == {0: [b""], 1: [b"part0;"], 2: [b"part1;"]}
    assert [reply["content"] for reply in drain(layer)] == [b"part2;", b""]


def test_seeds_first_example_verbatim(layer):
    # From the getting-started guide, with only the import renamed.
    def http_consumer(message):
        response = HttpResponse("Hello world! You asked for %s" % message.content['path'])  # noqa: UP031
        for chunk in AsgiHandler.encode_response(response):
            message.reply_channel.send(chunk)

    result = dispatch(Delivery("http.request", request_content("/any/path")), layer,
                      Router([route("http.request", http_consumer)]))
    assert result.outcome is Outcome.CONSUMED
    status, _, body = assemble(drain(layer))
    assert (status, body) == (200, b"Hello world! You asked for /any/path")


def test_seeds_example_routing_dict_form(layer, settings):
    import sys
    import types

    module = types.ModuleType("seed_consumers")

    def http_consumer(message):
        response = HttpResponse("Hello world! You asked for %s" % message.content['path'])  # noqa: UP031
        for chunk in AsgiHandler.encode_response(response):
            message.reply_channel.send(chunk)

    module.http_consumer = http_consumer
    sys.modules["seed_consumers"] = module
    try:
        router = Router({"http.request": "seed_consumers.http_consumer"})
        dispatch(Delivery("http.request", request_content("/p")), layer, router)
    finally:
        del sys.modules["seed_consumers"]
    assert assemble(drain(layer))[2] == b"Hello world! You asked for /p"


def test_request_without_reply_channel_is_logged(layer, caplog):
    content = request_content("/hello/")
    del content["reply_channel"]
    result = dispatch(Delivery("http.request", content), layer, default_router())
    assert result.outcome is Outcome.CONSUMED
    assert "without a reply_channel" in caplog.text


def test_body_channel_through_dispatch(layer):
    body_channel = layer.new_channel("http.request.body?")
    layer.send(body_channel, {"content": b" world", "more_content": False})
    content = request_content("/echo/", method="POST", body=b"hello", body_channel=body_channel)
    dispatch(Delivery("http.request", content), layer, default_router())
    assert assemble(drain(layer))[2] == b"hello world"


# -- a full reply channel ---------------------------------------------------------------------


def test_full_reply_channel_gives_up_after_the_configured_time(settings, caplog):
    settings.CHANNELS_HTTP_REPLY_TIMEOUT = 0.2
    # Capacity 1, and nobody reads it: the second message of the response can never be sent.
    layer = InMemoryChannelLayer(process_channel_capacity=1)
    finished = []

    def on_finished(**kwargs):
        finished.append(True)

    signals.request_finished.connect(on_finished)
    started = time.monotonic()
    try:
        result = dispatch(
            Delivery("http.request", request_content("/big/", query_string=b"size=1100000")),
            layer, default_router(),
        )
    finally:
        signals.request_finished.disconnect(on_finished)
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.CONSUMED
    assert elapsed >= 0.2  # it did retry for the configured time...
    assert "Gave up sending an HTTP response to http.response.test!conn1" in caplog.text
    assert finished == [True]  # ...and the response was closed
    replies = drain(layer)
    assert len(replies) == 1 and replies[0]["more_content"] is True


def test_full_reply_channel_is_retried_until_drained(settings):
    settings.CHANNELS_HTTP_REPLY_TIMEOUT = 10
    layer = InMemoryChannelLayer(process_channel_capacity=1)
    received = []
    done = threading.Event()

    def interface_server():
        # A slow reader: takes one message at a time.
        while not done.is_set():
            for delivery in layer.fetch([REPLY_PREFIX], block=True):
                received.append(delivery.content)
                if not delivery.content["more_content"]:
                    done.set()

    reader = threading.Thread(target=interface_server)
    reader.start()
    try:
        dispatch(
            Delivery("http.request", request_content("/big/", query_string=b"size=1600000")),
            layer, default_router(),
        )
        assert done.wait(10)
    finally:
        done.set()
        reader.join()
    assert len(received) == 4
    assert assemble(received)[2] == b"x" * 1_600_000


class FakeChannel:
    """A channel that is full a given number of times (unit test of the retry policy)."""

    name = "http.response.fake!1"

    def __init__(self, full_times, error=ChannelFull):
        self.full_times = full_times
        self.error = error
        self.sent = []

    def send(self, content, immediately=False):
        assert immediately
        if self.full_times:
            self.full_times -= 1
            raise self.error("full")
        self.sent.append(content)


def test_send_reply_backoff_is_capped_and_bounded():
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    channel = FakeChannel(full_times=1000)
    assert send_reply(channel, {"content": b""}, 3.0, sleep=sleep, clock=lambda: now[0]) is False
    assert sleeps[:3] == [0.005, 0.01, 0.02]
    assert max(sleeps) == 0.25
    assert sum(sleeps) == pytest.approx(3.0)
    assert channel.sent == []


def test_send_reply_succeeds_after_retries():
    channel = FakeChannel(full_times=3)
    assert send_reply(channel, {"content": b"x"}, 1.0, sleep=lambda s: None) is True
    assert channel.sent == [{"content": b"x"}]


def test_send_reply_gives_up_on_message_too_large(caplog):
    channel = FakeChannel(full_times=1, error=MessageTooLarge)
    assert send_reply(channel, {"content": b"x"}, 1.0, sleep=lambda s: None) is False
    assert "Could not send an HTTP response" in caplog.text


def test_reply_timeout_setting_is_validated(settings, layer):
    from django.core.exceptions import ImproperlyConfigured

    settings.CHANNELS_HTTP_REPLY_TIMEOUT = "soon"
    message_content = request_content("/hello/")
    from channels_classic.message import Message

    with pytest.raises(ImproperlyConfigured, match="CHANNELS_HTTP_REPLY_TIMEOUT"):
        ViewConsumer()(Message(message_content, "http.request", layer))
