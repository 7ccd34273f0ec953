"""The asyncio half of the Redis layer: loop binding, cancellation safety, batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis

from channels_classic.layers import Delivery, LayerUnavailable
from channels_classic.layers.redis import RedisChannelLayer
from tests.layers.helpers import (
    command_counts,
    record_commands,
    reset_command_stats,
    run_async,
    wait_until_blocked,
)
from tests.support.redis_server import RedisServer

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


def _connection_count(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return len(client.client_list())
    finally:
        client.close()


def test_round_trips_reuse_the_connections_the_shard_holds(make_redis_layer: MakeRedis,
                                                           redis_url: str) -> None:
    layer = make_redis_layer()

    async def body() -> tuple[int, int, list[int]]:
        await layer.send_async("held", {"n": -1})
        await layer.fetch_async(["held"])
        opened = _connection_count(redis_url)
        for n in range(20):
            await layer.send_many_async([("held", {"n": n})])
            await layer.fetch_async(["held"])
        # Concurrent batches: one runs on the held connection, the others on pooled ones;
        # every message arrives.
        await asyncio.gather(*(layer.send_many_async([("held", {"n": 100 + n})])
                               for n in range(5)))
        got = await layer.fetch_async(["held"], max_messages=10)
        return opened, _connection_count(redis_url), sorted(d.content["n"] for d in got)

    opened, after_sequential_and_concurrent, numbers = run_async([layer], body)
    assert numbers == [100, 101, 102, 103, 104]
    # Twenty sequential round trips opened nothing new; the concurrent ones at most four.
    assert opened <= after_sequential_and_concurrent <= opened + 4


def test_without_hiredis_the_pool_is_used(make_redis_layer: MakeRedis,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from channels_classic.layers.redis import transport

    monkeypatch.setattr(transport, "hiredis", None)
    layer = make_redis_layer()

    async def body() -> list[Delivery]:
        await layer.send_many_async([("plain", {"n": 1}), ("plain", {"n": 2})])
        return await layer.fetch_async(["plain"], max_messages=5)

    assert run_async([layer], body) == [Delivery("plain", {"n": 1}, 0),
                                        Delivery("plain", {"n": 2}, 0)]
    shard = next(iter(layer._loops.values()), None)
    assert shard is None  # the loop's clients were closed with it
    assert layer.receive(["plain"]) == (None, None)


def test_a_timed_out_send_is_not_repeated(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer(connection_kwargs={"socket_timeout": 0.3})
    admin = redis.Redis.from_url(redis_url)

    async def body() -> list[Delivery]:
        await layer.send_async("slow", {"n": 0})
        await layer.fetch_async(["slow"])
        admin.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        with pytest.raises(LayerUnavailable, match="Timeout"):
            await layer.send_async("slow", {"n": 1})
        # The layer does not send it again (the script may have run) and drops the connection
        # that timed out rather than reuse it with a late reply unread.  Redis drops a paused
        # command whose client has gone, so the message arrives at most once.
        await asyncio.to_thread(admin.execute_command, "CLIENT", "UNPAUSE")
        await layer.send_async("slow", {"n": 2})
        return await layer.fetch_async(["slow"], max_messages=5)

    try:
        got = run_async([layer], body)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert [d.content["n"] for d in got] in ([2], [1, 2])


def test_sync_pipelines_read_replies_without_extra_health_checks(
    make_redis_layer: MakeRedis, redis_factory: Callable[[], RedisServer]
) -> None:
    url = redis_factory().url  # its own server: PINGs are counted from its statistics
    layer = make_redis_layer(hosts=[url], connection_kwargs={"health_check_interval": 0.3})
    layer.send_many([("healthy", {"n": -1})])
    reset_command_stats([url])
    deadline = time.monotonic() + 1.2
    sent = 0
    while time.monotonic() < deadline:
        assert layer.send_many([("healthy", {"n": sent})]) == [None]
        sent += 1
        time.sleep(0.02)
    counts = command_counts(url)
    # Every reply counts as a sign of health: no PING while round trips keep coming.
    assert counts.get("ping", 0) == 0
    assert counts["evalsha"] == sent
    assert len(layer.fetch(["healthy"], max_messages=100)) == min(sent + 1, 100)


def test_a_timed_out_sync_pipeline_is_not_repeated(make_redis_layer: MakeRedis,
                                                   redis_url: str) -> None:
    layer = make_redis_layer(connection_kwargs={"socket_timeout": 0.3})
    admin = redis.Redis.from_url(redis_url)
    try:
        layer.send_many([("slow-sync", {"n": 0})])
        layer.fetch(["slow-sync"])
        admin.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        results = layer.send_many([("slow-sync", {"n": 1})])
        assert isinstance(results[0], LayerUnavailable) and "Timeout" in str(results[0])
        admin.execute_command("CLIENT", "UNPAUSE")
        # The connection that timed out was dropped: this round trip cannot read the late
        # reply of the one before.
        assert layer.send_many([("slow-sync", {"n": 2})]) == [None]
        got = layer.fetch(["slow-sync"], max_messages=5)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()
    assert [d.content["n"] for d in got] in ([2], [1, 2])
