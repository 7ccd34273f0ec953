"""``RedisChannelLayer.fetch_ahead``: a worker thread's sends carry its next receive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import redis

from channels_classic.layers.redis import RedisChannelLayer
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url(redis_factory: Callable[[], RedisServer]) -> str:
    """A server of this test's own: the round-trip counts must not see other clients."""
    return redis_factory().url


@pytest.fixture
def layer(redis_url: str) -> Iterator[RedisChannelLayer]:
    made = RedisChannelLayer(hosts=[redis_url], receive_timeout=1)
    try:
        yield made
    finally:
        made.fetch_ahead(None)
        made.close()


def _client_reads(client: redis.Redis) -> int:
    """Requests Redis has read from clients so far (one per round trip)."""
    return int(client.info("stats")["total_reads_processed"])


def _list_length(redis_url: str, key: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.llen(key))
    finally:
        client.close()


def test_send_many_pops_the_next_message_in_the_same_round_trip(
    layer: RedisChannelLayer, redis_url: str
) -> None:
    layer.send("work", {"n": 1})
    layer.send("work", {"n": 2})
    layer.fetch_ahead(["work"])
    client = redis.Redis.from_url(redis_url)
    try:
        before = _client_reads(client)
        assert layer.send_many([("reply!a", {"ok": True})]) == [None]
        # One round trip (plus the INFO that measures it), and one message left Redis.
        assert _client_reads(client) - before == 2
    finally:
        client.close()
    assert _list_length(redis_url, "asgi:work") == 1
    (delivery,) = layer.fetch(["work"], block=True)
    assert delivery.content == {"n": 1}
    assert _list_length(redis_url, "asgi:work") == 1


def test_nothing_is_taken_ahead_while_a_message_is_buffered(
    layer: RedisChannelLayer, redis_url: str
) -> None:
    for n in range(3):
        layer.send("work", {"n": n})
    layer.fetch_ahead(["work"])
    layer.send_many([("reply!a", {"i": 1})])
    layer.send_many([("reply!a", {"i": 2})])
    layer.send_group("room", {"text": "x"})
    # Only the first send took a message ahead.
    assert _list_length(redis_url, "asgi:work") == 2
    got = [layer.fetch(["work"], block=True)[0].content["n"] for _ in range(3)]
    assert got == [0, 1, 2]


def test_send_group_takes_one_ahead(layer: RedisChannelLayer, redis_url: str) -> None:
    layer.group_add("room", "reply!a")
    layer.send("work", {"n": 7})
    layer.fetch_ahead(["work"])
    layer.send_group("room", {"text": "hi"})
    assert _list_length(redis_url, "asgi:work") == 0
    assert layer.fetch(["work"], block=False)[0].content == {"n": 7}
    assert layer.fetch(["reply!"], block=True)[0].content == {"text": "hi"}


def test_inactive_or_cleared_takes_nothing(layer: RedisChannelLayer, redis_url: str) -> None:
    layer.send("work", {"n": 1})
    stopping = threading.Event()
    stopping.set()
    layer.fetch_ahead(["work"], active=lambda: not stopping.is_set())
    layer.send_many([("reply!a", {})])
    assert _list_length(redis_url, "asgi:work") == 1
    layer.fetch_ahead(None)
    layer.send_many([("reply!a", {})])
    assert _list_length(redis_url, "asgi:work") == 1


def test_only_the_thread_that_asked(layer: RedisChannelLayer, redis_url: str) -> None:
    layer.send("work", {"n": 1})
    layer.fetch_ahead(["work"])
    other = threading.Thread(target=layer.send_many, args=([("reply!a", {})],))
    other.start()
    other.join(10)
    assert _list_length(redis_url, "asgi:work") == 1


def test_close_gives_a_message_taken_ahead_back(redis_url: str) -> None:
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=1)
    layer.send("work", {"n": 1})
    layer.send("work", {"n": 2})
    layer.fetch_ahead(["work"])
    layer.send_many([("reply!a", {})])
    assert _list_length(redis_url, "asgi:work") == 1
    layer.close()
    other = RedisChannelLayer(hosts=[redis_url], receive_timeout=1)
    try:
        got = [other.fetch(["work"], block=True)[0].content["n"] for _ in range(2)]
    finally:
        other.close()
    assert got == [1, 2]


def test_a_waiting_receiver_gets_the_message_first(
    layer: RedisChannelLayer, redis_url: str
) -> None:
    # Redis serves a client blocked in BLMPOP when the message is pushed, before any LMPOP
    # can see it: a worker that is waiting is never robbed by one that is sending.
    waiter = RedisChannelLayer(hosts=[redis_url], receive_timeout=5)
    received: list[object] = []
    thread = threading.Thread(
        target=lambda: received.extend(waiter.fetch(["work"], block=True)))
    try:
        thread.start()
        client = redis.Redis.from_url(redis_url)
        try:
            # Wait (bounded) until the receiver is really blocked in BLMPOP.
            for _ in range(500):
                if int(client.info("clients")["blocked_clients"]) >= 1:
                    break
                threading.Event().wait(0.01)
            assert int(client.info("clients")["blocked_clients"]) >= 1
        finally:
            client.close()
        layer.fetch_ahead(["work"])
        layer.send("work", {"n": 1})
        layer.send_many([("reply!a", {})])
        thread.join(10)
    finally:
        waiter.close()
    assert [d.content for d in received] == [{"n": 1}]  # type: ignore[attr-defined]
    assert layer.fetch(["work"], block=False) == []
