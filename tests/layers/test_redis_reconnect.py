"""Redis going away and coming back: quick LayerUnavailable, same layer object works again."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from channels_classic.layers import Delivery, LayerUnavailable
from channels_classic.layers.redis import RedisChannelLayer
from tests.layers.helpers import run_async, wait_until_blocked
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

MakeRedis = Callable[..., RedisChannelLayer]
#: Generous bound for "fails fast instead of hanging"; the layer answers in well under 1 s.
QUICKLY = 10.0


def test_layer_reconnects_after_restart(redis_factory: Callable[[], RedisServer],
                                        make_redis_layer: MakeRedis) -> None:
    server = redis_factory()
    layer = make_redis_layer(hosts=[server.url])
    layer.send("before", {"n": 1})
    assert layer.receive(["before"], block=True) == ("before", {"n": 1})
    layer.group_add("room", "member")
    first_identity = layer.identity()
    server.restart()
    # Pooled connections are stale and the scripts are gone: both recovered transparently.
    layer.send("after", {"n": 2})
    assert layer.receive(["after"], block=True) == ("after", {"n": 2})
    assert layer.identity() != first_identity  # the data was lost: readers can tell
    assert layer.group_channels("room") == []
    layer.group_add("room", "member")
    layer.send_group("room", {"n": 3})
    assert layer.receive(["member"]) == ("member", {"n": 3})


def test_layer_unavailable_while_down_then_back(redis_factory: Callable[[], RedisServer],
                                                make_redis_layer: MakeRedis) -> None:
    server = redis_factory()
    layer = make_redis_layer(hosts=[server.url], receive_timeout=5)
    layer.send("x", {"n": 0})
    layer.receive(["x"])
    server.stop()
    label = f"redis://127.0.0.1:{server.port}/0"
    operations = {
        "send": lambda: layer.send("x", {"n": 1}),
        "receive": lambda: layer.receive(["x"]),
        "blocking receive": lambda: layer.receive(["x"], block=True),
        "group_add": lambda: layer.group_add("g", "x"),
        "send_group": lambda: layer.send_group("g", {"n": 1}),
        "flush": layer.flush,
        "identity": layer.identity,
    }
    for name, operation in operations.items():
        begin = time.monotonic()
        with pytest.raises(LayerUnavailable, match=label):
            operation()
        assert time.monotonic() - begin < QUICKLY, name
    assert layer.send_many([("x", {"n": 1})])[0].__class__ is LayerUnavailable
    server.start()
    layer.send("x", {"n": 2})
    assert layer.receive(["x"], block=True) == ("x", {"n": 2})


def test_blocked_receive_fails_fast_when_the_server_dies(
    redis_factory: Callable[[], RedisServer], make_redis_layer: MakeRedis
) -> None:
    server = redis_factory()
    layer = make_redis_layer(hosts=[server.url], receive_timeout=30)
    layer.identity()  # connected and version-checked
    outcome: list[BaseException | list[Delivery]] = []

    def receive() -> None:
        try:
            outcome.append(layer.fetch(["idle"], block=True))
        except LayerUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=receive)
    thread.start()
    wait_until_blocked([server.url])
    begin = time.monotonic()
    server.stop()
    thread.join(timeout=QUICKLY)
    assert not thread.is_alive()
    assert time.monotonic() - begin < QUICKLY
    assert len(outcome) == 1 and isinstance(outcome[0], LayerUnavailable)


def test_async_reconnect_and_unavailable(redis_factory: Callable[[], RedisServer],
                                         make_redis_layer: MakeRedis) -> None:
    server = redis_factory()
    layer = make_redis_layer(hosts=[server.url], receive_timeout=2)

    async def body() -> None:
        await layer.send_async("a", {"n": 1})
        assert await layer.fetch_async(["a"]) == [Delivery("a", {"n": 1}, 0)]
        before = await layer.identity_async()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, server.stop)
        begin = loop.time()
        with pytest.raises(LayerUnavailable, match=str(server.port)):
            await layer.send_async("a", {"n": 2})
        with pytest.raises(LayerUnavailable):
            await layer.fetch_async(["a"])
        with pytest.raises(LayerUnavailable):
            await layer.send_group_async("g", {"n": 2})
        assert loop.time() - begin < QUICKLY
        await loop.run_in_executor(None, server.start)
        await layer.send_async("a", {"n": 3})
        assert await layer.fetch_async(["a"]) == [Delivery("a", {"n": 3}, 0)]
        assert await layer.identity_async() != before

    run_async([layer], body)
