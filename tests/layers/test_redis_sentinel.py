"""``RedisSentinelChannelLayer`` against a real Sentinel monitoring real redis-servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from channels_classic.layers import Delivery, LayerUnavailable
from channels_classic.layers.redis import RedisSentinelChannelLayer
from tests.layers.conftest import FakeClock
from tests.layers.helpers import run_async
from tests.layers.sentinel_server import SentinelServer
from tests.support.redis_server import RedisServer, start_redis

pytestmark = pytest.mark.redis

MakeSentinel = Callable[..., RedisSentinelChannelLayer]


@pytest.fixture
def master(redis_factory: Callable[[], RedisServer]) -> RedisServer:
    return redis_factory()


@pytest.fixture
def sentinel(master: RedisServer) -> Iterator[SentinelServer]:
    server = SentinelServer(master.port)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_sentinel_layer(
    sentinel: SentinelServer, clock: FakeClock
) -> Iterator[MakeSentinel]:
    created: list[RedisSentinelChannelLayer] = []

    def make(**kwargs: object) -> RedisSentinelChannelLayer:
        kwargs.setdefault("hosts", [sentinel.host])
        kwargs.setdefault("receive_timeout", 0.3)
        kwargs.setdefault("clock", clock)
        layer = RedisSentinelChannelLayer(**kwargs)  # type: ignore[arg-type]
        created.append(layer)
        return layer

    try:
        yield make
    finally:
        for layer in created:
            layer.close()


def run_id(server: RedisServer) -> str:
    client = server.client()
    try:
        return str(client.info("server")["run_id"])
    finally:
        client.close()


def test_services_are_discovered_and_messages_flow(
    make_sentinel_layer: MakeSentinel, master: RedisServer
) -> None:
    layer = make_sentinel_layer()
    layer.send("http.request", {"n": 1})
    layer.send("daphne!conn", {"n": 2})
    layer.group_add("room", "daphne!member")
    layer.send_group("room", {"n": 3})
    assert layer.shard_labels == ["Sentinel service 'mymaster'"]
    assert layer.services == ["mymaster"]
    assert layer.receive(["http.request"], block=True) == ("http.request", {"n": 1})
    assert sorted(d.content["n"] for d in layer.fetch(["daphne!"], max_messages=5)) == [2, 3]
    assert layer.identity() == run_id(master)
    client = master.client()
    try:  # everything lives on the master Sentinel named
        assert sorted(client.scan_iter()) == [
            b"asgi-meta:#global#", b"asgi-meta:daphne!", b"asgi-meta:http.request",
            b"asgi:group:room",
        ]
    finally:
        client.close()


def test_explicit_services_cached_master_and_async(
    make_sentinel_layer: MakeSentinel, master: RedisServer
) -> None:
    layer = make_sentinel_layer(services=["mymaster"], sentinel_refresh_interval=30)

    async def body() -> list[Delivery]:
        await layer.send_async("async", {"n": 1})
        assert await layer.identity_async() == run_id(master)
        return await layer.fetch_async(["async"])

    assert run_async([layer], body) == [Delivery("async", {"n": 1}, 0)]
    layer.send("sync", {"n": 2})
    assert layer.receive(["sync"]) == ("sync", {"n": 2})


def test_unknown_service_is_unavailable(make_sentinel_layer: MakeSentinel) -> None:
    layer = make_sentinel_layer(services=["nosuchmaster"])
    with pytest.raises(LayerUnavailable, match="nosuchmaster"):
        layer.send("x", {"n": 1})


def test_no_sentinel_answering_is_unavailable(make_sentinel_layer: MakeSentinel) -> None:
    layer = make_sentinel_layer(hosts=[("127.0.0.1", 1)])
    with pytest.raises(LayerUnavailable, match="Sentinel"):
        layer.send("x", {"n": 1})


def _replica_watched_by_sentinel(master: RedisServer) -> tuple[RedisServer, SentinelServer]:
    """A replica of ``master`` in sync, and a Sentinel that knows both (ready to fail over)."""
    setup = master.client()
    setup.config_set("repl-diskless-sync-delay", 0)  # sync the replica now, not in 5 s
    setup.close()
    replica = start_redis(extra_args=["--replicaof", "127.0.0.1", str(master.port)])
    deadline = time.monotonic() + 10
    replica_client = replica.client()
    try:
        while replica_client.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "replica never synced"
            time.sleep(0.02)
    finally:
        replica_client.close()
    # Started after the replica is in sync, so Sentinel's first look finds it.
    sentinel = SentinelServer(master.port).start()
    sentinel_client = sentinel.client()
    try:
        while not any(
            replica_state.get("master-link-status") == "ok"
            and not replica_state.get("is_disconnected")
            for replica_state in sentinel_client.sentinel_slaves("mymaster")
        ):  # Sentinel only promotes a replica it has talked to itself
            assert time.monotonic() < deadline, "Sentinel never reached the replica"
            time.sleep(0.02)
    finally:
        sentinel_client.close()
    return replica, sentinel


def _fail_over(sentinel: SentinelServer, replica: RedisServer) -> None:
    client = sentinel.client()
    deadline = time.monotonic() + 10
    try:
        client.execute_command("SENTINEL", "FAILOVER", "mymaster")
        while client.sentinel_masters()["mymaster"]["port"] != replica.port:
            assert time.monotonic() < deadline, "Sentinel never promoted the replica"
            time.sleep(0.02)
    finally:
        client.close()


def test_failover_to_the_replica(redis_factory: Callable[[], RedisServer],
                                 clock: FakeClock) -> None:
    master = redis_factory()
    replica, sentinel = _replica_watched_by_sentinel(master)
    layer: RedisSentinelChannelLayer | None = None
    try:
        layer = RedisSentinelChannelLayer(hosts=[sentinel.host], receive_timeout=0.3,
                                          clock=clock)
        layer.send("before", {"n": 1})
        assert layer.receive(["before"]) == ("before", {"n": 1})
        assert layer.identity() == run_id(master)

        _fail_over(sentinel, replica)
        master.stop()  # the old master is gone for good

        # The same layer object follows Sentinel to the new master.
        layer.send("after", {"n": 2})
        assert layer.receive(["after"], block=True) == ("after", {"n": 2})
        assert layer.identity() == run_id(replica)
    finally:
        if layer is not None:
            layer.close()
        sentinel.close()
        replica.close()


def test_connections_leave_a_demoted_master(redis_factory: Callable[[], RedisServer],
                                                  clock: FakeClock) -> None:
    master = redis_factory()
    replica, sentinel = _replica_watched_by_sentinel(master)
    layer = RedisSentinelChannelLayer(hosts=[sentinel.host], receive_timeout=0.3, clock=clock)

    async def body() -> tuple[list[Delivery], list[Delivery]]:
        # The asyncio side now holds connections to the master.
        await layer.send_async("before", {"n": 1})
        before = await layer.fetch_async(["before"])
        await asyncio.to_thread(_fail_over, sentinel, replica)
        # The old master keeps running as a replica of the new one (what Sentinel does when
        # it next sees it; done here at once): writes to it are refused with READONLY
        # instead of failing the connection.
        old = master.client()
        try:
            old.replicaof("127.0.0.1", replica.port)
            assert old.info("replication")["role"] == "slave"
        finally:
            old.close()
        await layer.send_async("after", {"n": 2})
        return before, await layer.fetch_async(["after"])

    try:
        # This thread's sync connection reaches the master too.
        assert layer.send_many([("sync", {"n": 1})]) == [None]
        before, after = run_async([layer], body)
        assert before == [Delivery("before", {"n": 1}, 0)]
        assert after == [Delivery("after", {"n": 2}, 0)]
        # The sync pipeline meets READONLY on the demoted master and moves on as well.
        assert layer.send_many([("sync", {"n": 2})]) == [None]
        # (Whether the first one survived the failover depends on replication timing.)
        assert [d.content for d in layer.fetch(["sync"], max_messages=5)][-1:] == [{"n": 2}]
        assert layer.identity() == run_id(replica)
    finally:
        layer.close()
        sentinel.close()
        replica.close()


def test_sentinel_layer_reports_redis_errors_with_the_service_name(
    make_sentinel_layer: MakeSentinel, master: RedisServer
) -> None:
    layer = make_sentinel_layer(services=["mymaster"])
    layer.send("x", {"n": 1})
    master.stop()
    with pytest.raises(LayerUnavailable, match="Sentinel service 'mymaster'"):
        layer.send("x", {"n": 2})
