"""The asyncio half of the Redis layer: loop binding, cancellation safety, batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from channels_classic.layers import Delivery
from channels_classic.layers.redis import RedisChannelLayer
from tests.layers.helpers import record_commands, run_async, wait_until_blocked

pytestmark = pytest.mark.redis

MakeRedis = Callable[..., RedisChannelLayer]


def test_clients_bind_lazily_to_each_running_loop(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer()  # built outside any event loop
    for round_number in range(3):
        layer.send("loops", {"round": round_number})

        async def body() -> list[Delivery]:
            return await layer.fetch_async(["loops"])

        assert run_async([layer], body) == [Delivery("loops", {"round": round_number}, 0)]


def test_cancelling_a_receive_does_not_lose_the_message_its_pop_takes(
    make_redis_layer: MakeRedis, redis_url: str
) -> None:
    layer = make_redis_layer(receive_timeout=30)

    async def body() -> list[Delivery]:
        waiting = asyncio.create_task(layer.fetch_async(["cancel-me"]))
        await asyncio.to_thread(wait_until_blocked, [redis_url])
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # The pop is still in flight and takes this message out of Redis...
        await layer.send_async("cancel-me", {"n": 1})
        # ...and the next receive gets it from the buffer.
        return await asyncio.wait_for(layer.fetch_async(["cancel-me"]), 10)

    assert run_async([layer], body) == [Delivery("cancel-me", {"n": 1}, 0)]


def test_fetch_async_drains_a_batch_in_one_blmpop(make_redis_layer: MakeRedis,
                                                  redis_url: str) -> None:
    layer = make_redis_layer()
    reply = layer.new_channel("batch?")

    async def body() -> list[Delivery]:
        await layer.fetch_async(["warm-up"])  # connects the blocking client
        await layer.send_many_async([(reply, {"n": n}) for n in range(50)])
        with record_commands(redis_url) as recorded:
            got = await layer.fetch_async([reply, "other", "proc!"], max_messages=100)
        assert recorded.counts == {"BLMPOP": 1}
        assert " COUNT 100" in recorded.commands[0]
        return got

    assert [d.content["n"] for d in run_async([layer], body)] == list(range(50))


def test_send_many_async_is_one_pipelined_round_trip(make_redis_layer: MakeRedis,
                                                     redis_url: str) -> None:
    layer = make_redis_layer()

    async def body() -> list[BaseException | None]:
        await layer.send_async("warm", {"n": 0})
        with record_commands(redis_url) as recorded:
            results = await layer.send_many_async([("pipe", {"n": n}) for n in range(20)])
        assert recorded.counts == {"EVALSHA": 20}
        return results

    assert run_async([layer], body) == [None] * 20
    assert len(layer.fetch(["pipe"], max_messages=50)) == 20


def test_async_send_with_attempts_and_full_channel(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer(capacity=1)

    async def body() -> None:
        await layer.send_async("one", {"n": 1}, attempts=2)
        with pytest.raises(layer.ChannelFull):
            await layer.send_async("one", {"n": 2})
        results = await layer.send_many_async([("one", {"n": 3}), ("bad name", {})])
        assert isinstance(results[0], layer.ChannelFull)
        assert isinstance(results[1], TypeError)
        assert await layer.fetch_async(["one"]) == [Delivery("one", {"n": 1}, 2)]

    run_async([layer], body)


def test_flush_async(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer()

    async def body() -> list[Delivery]:
        await layer.send_async("f", {"n": 1})
        await layer.flush_async()
        return layer.fetch(["f"])

    assert run_async([layer], body) == []


def test_close_async_unblocks_pops_promptly_and_keeps_the_layer_usable(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=30)

    async def body() -> float:
        waiting = asyncio.create_task(layer.fetch_async(["idle", "idle.proc!"]))
        await asyncio.to_thread(wait_until_blocked, redis_shard_urls)  # one BLMPOP per shard
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        loop = asyncio.get_running_loop()
        begin = loop.time()
        await layer.close_async()  # CLIENT UNBLOCK: no 30 s wait, nothing popped is lost
        return loop.time() - begin

    assert run_async([], body) < 5
    layer.send("idle.proc!c", {"n": 1})
    assert layer.fetch(["idle.proc!"], block=True) == [Delivery("idle.proc!c", {"n": 1}, 0)]
