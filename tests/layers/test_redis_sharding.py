"""Sharding over three real redis-servers: placement, spreading, waiting on all shards at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import redis

from channels_classic.layers import Delivery, LayerUnavailable
from channels_classic.layers.redis import RedisChannelLayer
from tests.layers.helpers import record_commands, run_async
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.redis

MakeRedis = Callable[..., RedisChannelLayer]


def names_on_each_shard(layer: RedisChannelLayer, pattern: str) -> list[str]:
    """One name per shard, formatted from ``pattern`` with an increasing number."""
    found: dict[int, str] = {}
    index = 0
    while len(found) < len(layer.shard_labels):
        name = pattern.format(index)
        found.setdefault(layer.shard_for(name), name)
        index += 1
    return [found[shard] for shard in range(len(found))]


def keys_per_server(urls: list[str]) -> list[set[bytes]]:
    result = []
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            result.append(set(client.scan_iter(count=1000)))
        finally:
            client.close()
    return result


def test_local_and_single_reader_channels_and_groups_live_on_their_hash_shard(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, statistics=False)
    prefixes = [f"daphne.{index}!" for index in range(30)]
    replies = [layer.new_channel("reply?") for _ in range(30)]
    for prefix in prefixes:
        layer.send(prefix + "conn", {"n": 1})
        layer.group_add("room", prefix + "conn")
    for reply in replies:
        layer.send(reply, {"n": 1})
    servers = keys_per_server(redis_shard_urls)
    for name in prefixes + replies:
        owner = layer.shard_for(name)
        key = f"asgi:{name}".encode()
        assert [key in keys for keys in servers] == [shard == owner for shard in range(3)]
    # Each shard holds the memberships of its own channels: one sorted set per shard.
    assert all(b"asgi:group:room" in keys for keys in servers)
    assert sorted(layer.group_channels("room")) == sorted(p + "conn" for p in prefixes)
    assert Counter(layer.shard_for(p) for p in prefixes).keys() == {0, 1, 2}


def test_normal_channels_are_spread_over_all_shards(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls)
    for index in range(30):
        layer.send("http.request", {"n": index})
    lengths = []
    for url in redis_shard_urls:
        client = redis.Redis.from_url(url)
        try:
            lengths.append(client.llen("asgi:http.request"))
        finally:
            client.close()
    assert lengths == [10, 10, 10]
    assert layer.channel_statistics("http.request")["messages_pending"] == 30


def test_group_send_is_one_script_per_shard(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, process_channel_capacity=1000)
    members = [f"proc{index % 20}!c{index}" for index in range(1000)]
    for member in members:
        layer.group_add("big", member)
    layer.send_group("warm-up", {"n": 0})  # loads the script on every shard
    recorders = [record_commands(url) for url in redis_shard_urls]
    recorded = [recorder.__enter__() for recorder in recorders]
    try:
        layer.send_group("big", {"n": 1})
    finally:
        for recorder in recorders:
            recorder.__exit__(None, None, None)
    assert [r.counts for r in recorded] == [{"EVALSHA": 1}] * 3
    got = layer.fetch([f"proc{index}!" for index in range(20)], max_messages=1000)
    got += layer.fetch([f"proc{index}!" for index in range(20)], max_messages=1000)
    assert sorted(d.channel for d in got) == sorted(members)


def test_blocking_receive_returns_as_soon_as_any_shard_has_a_message(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=30)
    prefixes = names_on_each_shard(layer, "listener{}!")
    for target in prefixes:
        threading.Timer(0.1, layer.send, args=(target + "x", {"to": target})).start()
        begin = time.monotonic()
        got = layer.fetch(prefixes, block=True)
        assert got == [Delivery(target + "x", {"to": target}, 0)]
        assert time.monotonic() - begin < 10


def test_messages_popped_on_other_shards_are_kept_for_the_next_receive(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=1)
    prefixes = names_on_each_shard(layer, "buffered{}!")
    for prefix in prefixes:
        layer.send(prefix + "a", {"p": prefix})
    first = layer.fetch(prefixes, block=True)
    assert len(first) == 1
    # The pops on the other two shards ran at the same time and took the other two
    # messages out of Redis; they are kept in this process for the next receives.
    deadline = time.monotonic() + 5
    while any(k.startswith(b"asgi:") for keys in keys_per_server(redis_shard_urls) for k in keys):
        assert time.monotonic() < deadline, "the other shards' pops never completed"
        time.sleep(0.01)
    rest: list[Delivery] = []
    for _ in range(5):
        rest += layer.fetch(prefixes, block=True, max_messages=5)
        if len(rest) == 2:
            break
    assert sorted(d.content["p"] for d in first + rest) == sorted(prefixes)
    assert layer.fetch(prefixes, block=True, max_messages=5) == []


def test_close_gives_buffered_messages_back_to_redis(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=1)
    prefixes = names_on_each_shard(layer, "stopping{}!")
    for number, prefix in enumerate(prefixes):
        layer.send(prefix + "a", {"n": number})
        layer.send(prefix + "a", {"n": number + 10})
    first = layer.fetch(prefixes, block=True)
    assert len(first) == 1
    # The pops on the other two shards took one message each into this process.
    deadline = time.monotonic() + 5
    while layer._pops.buffered_count() < 2:
        assert time.monotonic() < deadline, "the other shards' pops never completed"
        time.sleep(0.01)
    layer.close()  # as a stopping worker does

    successor = make_redis_layer(hosts=redis_shard_urls, receive_timeout=0.2)
    rest: list[Delivery] = []
    for _ in range(20):
        rest += successor.fetch(prefixes, block=True, max_messages=10)
        if len(rest) == 5:
            break
    assert sorted(d.content["n"] for d in first + rest) == [0, 1, 2, 10, 11, 12]
    # Per channel, the order survives the trip back into Redis.
    for prefix in prefixes:
        got = [d.content["n"] for d in first + rest if d.channel == prefix + "a"]
        assert got == sorted(got)
        assert len(got) == 2


def test_concurrent_receivers_over_shards_lose_and_duplicate_nothing(
    make_redis_layer: MakeRedis, redis_shard_urls: list[str]
) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=0.2, capacity=5000,
                             process_channel_capacity=5000)
    prefixes = names_on_each_shard(layer, "conc{}!")
    channels = ["work", *prefixes]
    expected = [f"w{index}" for index in range(300)] + [f"p{index}" for index in range(300)]
    received: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def receiver() -> None:
        while not stop.is_set():
            batch = layer.fetch(channels, block=True, max_messages=7)
            with lock:
                received.extend(d.content["id"] for d in batch)

    threads = [threading.Thread(target=receiver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for index in range(300):
        layer.send("work", {"id": f"w{index}"})
        layer.send(prefixes[index % 3] + f"c{index}", {"id": f"p{index}"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(received) >= len(expected):
                break
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    leftovers = layer.fetch(channels, max_messages=1000)
    assert sorted(received + [d.content["id"] for d in leftovers]) == sorted(expected)


def test_async_receive_over_shards(make_redis_layer: MakeRedis,
                                   redis_shard_urls: list[str]) -> None:
    layer = make_redis_layer(hosts=redis_shard_urls, receive_timeout=30)
    prefixes = names_on_each_shard(layer, "async{}!")

    async def body() -> list[list[Delivery]]:
        results = []
        for prefix in prefixes:
            threading.Timer(0.05, layer.send, args=(prefix + "c", {"p": prefix})).start()
            results.append(await layer.fetch_async(prefixes))
        await layer.group_add_async("room", prefixes[0] + "m")
        await layer.group_add_async("room", prefixes[2] + "m")
        await layer.send_group_async("room", {"room": True})
        results.append(await layer.fetch_async(prefixes, max_messages=5))
        if len(results[-1]) < 2:
            results[-1] += await layer.fetch_async(prefixes, max_messages=5)
        return results

    results = run_async([layer], body)
    assert results[:3] == [[Delivery(p + "c", {"p": p}, 0)] for p in prefixes]
    assert sorted(d.channel for d in results[3]) == sorted([prefixes[0] + "m", prefixes[2] + "m"])


def test_a_dead_shard_does_not_stop_the_others(
    redis_factory: Callable[[], RedisServer], make_redis_layer: MakeRedis
) -> None:
    servers = [redis_factory() for _ in range(3)]
    layer = make_redis_layer(hosts=[s.url for s in servers], receive_timeout=0.5)
    prefixes = names_on_each_shard(layer, "alive{}!")
    layer.send("warm", {"n": 0})
    assert layer.receive(["warm"]) == ("warm", {"n": 0})
    servers[1].stop()
    # Normal channels fail over to the live shards, on send and on receive.
    for index in range(6):
        layer.send("jobs", {"n": index})
    got: list[Delivery] = []
    for _ in range(10):
        got += layer.fetch(["jobs"], block=True, max_messages=10)
        if len(got) >= 6:
            break
    assert sorted(d.content["n"] for d in got) == [0, 1, 2, 3, 4, 5]
    # A process-local channel homed on the dead shard is unavailable, naming the server.
    with pytest.raises(LayerUnavailable, match=servers[1].url.rsplit("/", 1)[0]):
        layer.send(prefixes[1] + "c", {"n": 1})
    layer.send(prefixes[0] + "c", {"n": 1})
    assert layer.fetch(prefixes, block=True) == [Delivery(prefixes[0] + "c", {"n": 1}, 0)]
    for server in (servers[0], servers[2]):
        server.stop()
    with pytest.raises(LayerUnavailable):
        layer.fetch(["jobs"], block=True)
    with pytest.raises(LayerUnavailable):
        layer.send("jobs", {"n": 1})
    for server in servers:
        server.start()
    layer.send("jobs", {"n": "back"})
    assert [d.content for d in layer.fetch(["jobs"], block=True)] == [{"n": "back"}]
