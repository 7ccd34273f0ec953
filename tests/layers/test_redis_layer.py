"""Redis-only behaviour against a real redis-server: round trips, keys, encryption, threads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from channels_classic.layers import ChannelFull, Delivery
from channels_classic.layers.redis import RedisChannelLayer
from channels_classic.layers.redis.serializers import pack_envelope
from tests.layers.conftest import FakeClock
from tests.layers.helpers import all_keys, record_commands, run_async, wait_until_blocked

pytestmark = pytest.mark.redis

MakeRedis = Callable[..., RedisChannelLayer]


def raw(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


# -- round trips -------------------------------------------------------------------------------


def test_one_command_per_send_and_per_receive(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer()
    layer.send("warm", {"n": 0})  # loads the script and checks the version once
    layer.receive(["warm"])
    layer.receive(["warm"], block=True)
    with record_commands(redis_url) as sends:
        for index in range(20):
            layer.send("rt", {"n": index})
    assert sends.counts == {"EVALSHA": 20}
    with record_commands(redis_url) as receives:
        for _ in range(10):
            layer.receive(["rt", "rt2", "proc!"])
    assert receives.counts == {"EVALSHA": 10}
    with record_commands(redis_url) as blocking:
        for _ in range(10):
            assert layer.receive(["rt", "rt2", "proc!"], block=True)[0] == "rt"
    assert blocking.counts == {"BLMPOP": 1 * 10}
    assert all(" COUNT 1" in command for command in blocking.commands)


def test_send_many_is_one_pipelined_round_trip(make_redis_layer: MakeRedis,
                                               redis_url: str) -> None:
    layer = make_redis_layer()
    layer.send("warm", {"n": 0})
    with record_commands(redis_url) as recorded:
        results = layer.send_many([(f"ch{index % 3}", {"n": index}) for index in range(30)])
    assert results == [None] * 30
    assert recorded.counts == {"EVALSHA": 30}  # written and answered as one pipeline


def test_group_send_to_1000_members_is_one_script(make_redis_layer: MakeRedis,
                                                  redis_url: str) -> None:
    layer = make_redis_layer(process_channel_capacity=1000)
    prefixes = [f"daphne.response.p{index}!" for index in range(10)]
    members = [prefix + f"c{index}" for prefix in prefixes for index in range(100)]
    for member in members:
        layer.group_add("big-room", member)
    layer.send_group("empty-room", {"n": 0})  # first use loads the script (NOSCRIPT + LOAD)
    with record_commands(redis_url) as recorded:
        layer.send_group("big-room", {"text": "hello", "bytes": b"\x00"})
    assert recorded.counts == {"EVALSHA": 1}
    received: list[Delivery] = []
    for prefix in prefixes:
        batch = layer.fetch([prefix], max_messages=1000)
        assert len(batch) == 100
        received.extend(batch)
    assert sorted(d.channel for d in received) == sorted(members)
    assert all(d.content == {"text": "hello", "bytes": b"\x00"} for d in received)


def test_group_send_skips_counts_and_logs_full_members(
    make_redis_layer: MakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    layer = make_redis_layer(process_channel_capacity=5)
    for index in range(8):
        layer.group_add("crowd", f"proc!c{index}")
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        layer.send_group("crowd", {"n": 1})  # 5 fit in the shared process channel, 3 do not
    assert "Dropped messages: 3 skipped by send_group('crowd'): member at capacity" in caplog.text
    assert len(layer.fetch(["proc!"], max_messages=100)) == 5
    stats = layer.global_statistics()
    assert stats["group_send_skipped"] == 3
    assert stats["channel_full_count"] == 3
    assert layer.channel_statistics("proc!")["channel_full_count"] == 3


def test_group_member_capacity_from_patterns(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer(channel_capacity={"tight*": 1})
    layer.group_add("g", "tight.one")
    layer.group_add("g", "loose")
    layer.send_group("g", {"n": 1})
    layer.send_group("g", {"n": 2})
    assert len(layer.fetch(["tight.one"], max_messages=10)) == 1
    assert len(layer.fetch(["loose"], max_messages=10)) == 2


# -- keys --------------------------------------------------------------------------------------


def test_no_keys_left_behind_after_receive(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer(statistics=False)
    for index in range(200):
        layer.send(f"left{index % 7}", {"n": index, "body": b"x" * 100})
        layer.send(f"proc{index % 3}!c{index}", {"n": index})
    reply = layer.new_channel("reply?")
    layer.send(reply, {"n": "reply"})
    layer.group_add("room", "proc0!c1")
    layer.send_group("room", {"n": "group"})
    layer.group_discard("room", "proc0!c1")
    channels = [f"left{i}" for i in range(7)] + [f"proc{i}!" for i in range(3)] + [reply]
    got = 0
    while batch := layer.fetch(channels, max_messages=50):
        got += len(batch)
    assert got == 200 + 200 + 1 + 1
    assert all_keys(redis_url) == []


def test_only_statistics_keys_remain_with_statistics_on(make_redis_layer: MakeRedis,
                                                        redis_url: str) -> None:
    layer = make_redis_layer()
    for index in range(50):
        layer.send("stat.channel", {"n": index})
        layer.send(f"conn!{index}", {"n": index})
    reply = layer.new_channel("reply?")
    layer.send(reply, {"n": 1})
    while layer.fetch(["stat.channel", "conn!", reply], max_messages=100):
        pass
    assert all_keys(redis_url) == [b"asgi-meta:#global#", b"asgi-meta:conn!",
                                   b"asgi-meta:stat.channel"]
    client = raw(redis_url)
    try:
        assert 0 < client.ttl("asgi-meta:stat.channel") <= 3600
        assert 3600 < client.ttl("asgi-meta:#global#") <= 86400
    finally:
        client.close()


def test_key_layout(make_redis_layer: MakeRedis, redis_url: str, clock: FakeClock) -> None:
    layer = make_redis_layer(prefix="app:", stats_prefix="app-stats:", expiry=30,
                             statistics=False)
    layer.send("http.request", {"n": 1}, attempts=2)
    layer.send("daphne.x!conn", {"n": 2})
    layer.group_add("room", "daphne.x!conn")
    client = raw(redis_url)
    try:
        assert all_keys(redis_url) == [b"app:daphne.x!", b"app:group:room", b"app:http.request"]
        (entry,) = client.lrange("app:http.request", 0, -1)
        deadline = int(clock() * 1000) + 30_000
        assert entry.startswith(b"%d|2|http.request|" % deadline)
        assert client.lrange("app:daphne.x!", 0, -1)[0].split(b"|")[2] == b"daphne.x!conn"
        assert 30_000 < client.pttl("app:http.request") <= 31_000
        assert client.zscore("app:group:room", "daphne.x!conn") == pytest.approx(clock())
    finally:
        client.close()


def test_flush_uses_only_its_prefixes(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer(prefix="a*[x]:")  # glob characters are escaped
    other = make_redis_layer(prefix="b:", stats_prefix="b-stats:")
    layer.send("mine", {"n": 1})
    other.send("theirs", {"n": 1})
    client = raw(redis_url)
    try:
        client.set("unrelated", b"1")
        layer.flush()
        assert all_keys(redis_url) == [b"b-stats:#global#", b"b-stats:theirs", b"b:theirs",
                                       b"unrelated"]
    finally:
        client.close()


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_under_load(make_redis_layer: MakeRedis, clock: FakeClock,
                           redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    layer = make_redis_layer(expiry=10, capacity=1000)
    for index in range(500):
        layer.send("load", {"n": index})
        layer.send(f"load.proc!{index}", {"n": index})
        if index == 249:
            clock.advance(6)  # the first half will be 11 s old, the second 5 s
    clock.advance(5)
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        got = layer.fetch(["load", "load.proc!"], block=True, max_messages=1000)
        got += layer.fetch(["load", "load.proc!"], max_messages=1000)
        got += layer.fetch(["load", "load.proc!"], max_messages=1000)
    assert "expired before delivery" in caplog.text  # summarised, not one line each
    assert sorted(d.content["n"] for d in got) == sorted(list(range(250, 500)) * 2)
    assert layer.global_statistics()["messages_expired"] == 500
    assert all_keys(redis_url) == [b"asgi-meta:#global#", b"asgi-meta:load",
                                   b"asgi-meta:load.proc!"]


def test_full_channel_reclaims_expired_entries_on_send(make_redis_layer: MakeRedis,
                                                       clock: FakeClock, redis_url: str) -> None:
    layer = make_redis_layer(expiry=10, capacity=100, statistics=False)
    for index in range(100):
        layer.send("reclaim", {"n": index})
    clock.advance(11)
    layer.send("reclaim", {"n": "new"})  # capacity check drops the 100 expired heads
    client = raw(redis_url)
    try:
        assert client.llen("asgi:reclaim") == 1
    finally:
        client.close()


def test_channel_statistics_of_a_spread_channel_count_only_live(
    make_redis_layer: MakeRedis, clock: FakeClock
) -> None:
    layer = make_redis_layer(expiry=10)
    layer.send("aging", {"n": 1})
    clock.advance(4)
    layer.send("aging", {"n": 2})
    clock.advance(7)  # first one expired
    stats = layer.channel_statistics("aging")
    assert stats["messages_pending"] == 1
    assert stats["messages_max_age"] == pytest.approx(7, abs=0.01)


# -- encryption --------------------------------------------------------------------------------


def test_encrypted_round_trip_hides_the_body(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer(symmetric_encryption_keys=["k1"])
    layer.send("secret", {"password": "hunter2", "b": b"\x00"})
    layer.group_add("g", "secret.member")
    layer.send_group("g", {"password": "hunter3"})
    client = raw(redis_url)
    try:
        stored = client.lrange("asgi:secret", 0, -1) + client.lrange("asgi:secret.member", 0, -1)
    finally:
        client.close()
    assert len(stored) == 2 and not any(b"hunter" in entry for entry in stored)
    assert layer.receive(["secret"]) == ("secret", {"password": "hunter2", "b": b"\x00"})
    assert layer.receive(["secret.member"]) == ("secret.member", {"password": "hunter3"})


def test_key_rotation_and_unknown_keys(make_redis_layer: MakeRedis,
                                       caplog: pytest.LogCaptureFixture) -> None:
    old = make_redis_layer(symmetric_encryption_keys=["old"])
    rotated = make_redis_layer(symmetric_encryption_keys=["new", "old"])
    stranger = make_redis_layer(symmetric_encryption_keys=["other"])
    old.send("rot", {"n": "from old"})
    assert rotated.receive(["rot"]) == ("rot", {"n": "from old"})
    stranger.send("rot", {"n": "unreadable"})
    rotated.send("rot", {"n": "from rotated"})
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        assert rotated.receive(["rot"]) == ("rot", {"n": "from rotated"})
    assert "Dropped a message from rot that cannot be decoded" in caplog.text
    assert rotated.global_statistics()["messages_undecodable"] == 1


def test_corrupt_entries_are_dropped_and_logged(make_redis_layer: MakeRedis, redis_url: str,
                                                clock: FakeClock,
                                                caplog: pytest.LogCaptureFixture) -> None:
    layer = make_redis_layer()
    client = raw(redis_url)
    deadline = int(clock() * 1000) + 60_000
    try:
        client.rpush("asgi:corrupt", b"garbage", pack_envelope(deadline, 0, "corrupt", b"\xc1"))
    finally:
        client.close()
    layer.send("corrupt", {"n": "good"})
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        assert layer.fetch(["corrupt"], block=True) == [Delivery("corrupt", {"n": "good"}, 0)]
    # Both bad entries were popped by the blocking receive, dropped and logged.
    assert caplog.text.count("cannot be decoded") == 2
    assert "malformed list entry" in caplog.text and "corrupt message body" in caplog.text


# -- threads, identity, version -----------------------------------------------------------------


def test_threads_share_one_layer(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer(capacity=10_000, receive_timeout=0.2)
    senders, per_sender = 4, 250
    received: list[Any] = []
    lock = threading.Lock()
    done = threading.Event()

    def send(sender: int) -> None:
        for index in range(per_sender):
            layer.send("work", {"id": f"{sender}-{index}"})

    def receive() -> None:
        while True:
            batch = layer.fetch(["work"], block=True, max_messages=10)
            with lock:
                received.extend(d.content["id"] for d in batch)
            if not batch and done.is_set():
                return

    receivers = [threading.Thread(target=receive) for _ in range(4)]
    sending = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in receivers + sending:
        thread.start()
    for thread in sending:
        thread.join()
    done.set()
    for thread in receivers:
        thread.join(timeout=30)
    assert sorted(received) == sorted(f"{s}-{i}" for s in range(senders) for i in range(per_sender))


def test_identity_is_the_server_run_id(make_redis_layer: MakeRedis, redis_url: str) -> None:
    layer = make_redis_layer()
    client = raw(redis_url)
    try:
        assert layer.identity() == client.info("server")["run_id"]
    finally:
        client.close()


def test_version_is_checked_on_first_use(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer()
    layer.send("v", {"n": 1})
    (endpoint,) = layer._topology().endpoints
    assert endpoint.checked and endpoint.version >= (7, 0)


def test_channel_full_from_redis_layer_is_the_module_class(make_redis_layer: MakeRedis) -> None:
    layer = make_redis_layer(capacity=1)
    layer.send("one", {"n": 1})
    with pytest.raises(ChannelFull):
        layer.send("one", {"n": 2})
    assert run_async([layer], lambda: layer.fetch_async(["one"])) == [Delivery("one", {"n": 1})]


def test_close_ends_a_blocked_receive_promptly(redis_url: str, clock: FakeClock) -> None:
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=30, clock=clock)
    layer.identity()
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(layer.fetch(["idle"], block=True)))
    thread.start()
    wait_until_blocked([redis_url])
    begin = time.monotonic()
    layer.close()  # CLIENT UNBLOCK: the receive returns empty, not after 30 s, not an error
    thread.join(timeout=10)
    assert outcome == [[]]
    assert time.monotonic() - begin < 5
