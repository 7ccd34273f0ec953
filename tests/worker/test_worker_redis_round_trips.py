"""A worker on Redis makes one round trip per message while messages are queued."""

from __future__ import annotations

import threading

import pytest
import redis

from channels_classic.handler.consumer import ViewConsumer
from channels_classic.layers.redis import RedisChannelLayer
from channels_classic.routing import Router, route
from worker.worker import Worker

pytestmark = pytest.mark.redis


def echo(message):
    message.reply_channel.send({"n": message["n"]})


def test_replies_carry_the_next_receive_and_stopping_takes_nothing_extra(redis_factory):
    # A server of its own: the shared one also counts other tests' leftover clients' reads.
    redis_url = redis_factory().url
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=1)
    client = redis.Redis.from_url(redis_url)
    try:
        for n in range(25):
            layer.send("test.echo", {"n": n, "reply_channel": "reply!x"})
        processed = []
        reads_at_stop = []

        def on_message(delivery, result):
            processed.append(delivery.content["n"])
            if len(processed) == 20:
                reads_at_stop.append(int(client.info("stats")["total_reads_processed"]))
                worker.stop()

        worker = Worker(layer, Router([route("test.echo", echo)]), on_message=on_message)
        reads_before = int(client.info("stats")["total_reads_processed"])
        thread = threading.Thread(target=worker.run)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()
        reads = reads_at_stop[0] - reads_before
        assert processed == list(range(20))
        # One BLMPOP to start, then each reply's round trip brought the next message: 20,
        # plus the new thread's connection set-up (a few commands per connection) and the
        # INFO that measures.  Two round trips per message would be over 40.
        assert reads <= 20 + 12
        # The 20th reply took the 21st message ahead before the stop request; the worker
        # gave it back when its loop ended.
        assert client.llen("asgi:test.echo") == 5
        assert layer.fetch(["test.echo"], block=False)[0].content["n"] == 20
        replies = layer.fetch(["reply!"], block=False, max_messages=100)
        assert [d.content["n"] for d in replies] == list(range(20))
    finally:
        client.close()
        layer.close()


def test_a_django_view_reply_carries_the_next_receive(redis_factory, settings):
    redis_url = redis_factory().url
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=1)
    client = redis.Redis.from_url(redis_url)
    request = {"http_version": "1.1", "method": "GET", "path": "/hello/", "query_string": b"",
               "headers": [[b"host", b"testserver"]], "body": b""}
    try:
        for n in range(25):
            layer.send("http.request", {**request, "reply_channel": f"http.response!{n}"})
        processed = []
        reads_at_stop = []

        def on_message(delivery, result):
            processed.append(delivery.content["reply_channel"])
            if len(processed) == 20:
                reads_at_stop.append(int(client.info("stats")["total_reads_processed"]))
                worker.stop()

        worker = Worker(layer, Router([route("http.request", ViewConsumer())]),
                        on_message=on_message)
        reads_before = int(client.info("stats")["total_reads_processed"])
        thread = threading.Thread(target=worker.run)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()
        assert len(processed) == 20
        # As for the echo above: the final reply message of each response brought the next
        # request in the same round trip.
        assert reads_at_stop[0] - reads_before <= 20 + 12
        replies = layer.fetch(["http.response!"], block=False, max_messages=100)
        assert len(replies) == 20
        assert all(d.content["status"] == 200 and d.content["content"] == b"Hello /hello/"
                   and not d.content.get("more_content") for d in replies)
        assert layer.fetch(["http.request"], block=False)[0].content["reply_channel"] == (
            "http.response!20")
    finally:
        client.close()
        layer.close()
