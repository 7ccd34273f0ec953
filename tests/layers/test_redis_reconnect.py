"""Redis going away and coming back: quick LayerUnavailable, same layer object works again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

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


RECOVERED = "is reachable again; blocking receives resume"


class _Catch(logging.Handler):
    """Sets ``event`` when a record containing ``text`` is logged (from any thread)."""

    def __init__(self, text: str, event: threading.Event) -> None:
        super().__init__()
        self.text = text
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


@contextlib.contextmanager
def _logged(text: str) -> Iterator[threading.Event]:
    """An event set once the layer logs a line containing ``text`` (pool threads included)."""
    event = threading.Event()
    handler = _Catch(text, event)
    layer_logger = logging.getLogger("channels_classic.layers.redis")
    layer_logger.addHandler(handler)
    try:
        yield event
    finally:
        layer_logger.removeHandler(handler)


def _recoveries(caplog: pytest.LogCaptureFixture, port: int) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if RECOVERED in r.getMessage() and f":{port}/" in r.getMessage()]


def test_async_receive_logs_the_end_of_an_outage_once(
    redis_factory: Callable[[], RedisServer], make_redis_layer: MakeRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = redis_factory()
    layer = make_redis_layer(hosts=[server.url], receive_timeout=2)
    caplog.set_level("WARNING", logger="channels_classic.layers")

    async def body() -> None:
        loop = asyncio.get_running_loop()
        await layer.send_async("a", {"n": 1})
        assert await layer.fetch_async(["a"]) == [Delivery("a", {"n": 1}, 0)]
        await loop.run_in_executor(None, server.stop)
        with pytest.raises(LayerUnavailable):
            await layer.fetch_async(["a"])
        assert any("Blocking receive on" in r.getMessage() for r in caplog.records)
        assert _recoveries(caplog, server.port) == []
        await loop.run_in_executor(None, server.start)
        await layer.send_async("a", {"n": 2})
        assert await layer.fetch_async(["a"]) == [Delivery("a", {"n": 2}, 0)]
        await layer.send_async("a", {"n": 3})
        assert await layer.fetch_async(["a"]) == [Delivery("a", {"n": 3}, 0)]

    run_async([layer], body)
    # The recovery is said once per outage, naming the server, like the failure was.
    assert len(_recoveries(caplog, server.port)) == 1


def test_one_shard_down_the_other_serves_and_its_return_is_logged(
    redis_factory: Callable[[], RedisServer], make_redis_layer: MakeRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    servers = [redis_factory(), redis_factory()]
    layer = make_redis_layer(hosts=[s.url for s in servers], receive_timeout=1)
    caplog.set_level("WARNING", logger="channels_classic.layers")
    # Process channels: their shard is fixed by their name (a normal channel's message may
    # go to any shard that takes it).
    names = [f"p{n}!" for n in range(64)]
    on_down = next(name for name in names if layer.shard_for(name) == 0)
    on_up = next(name for name in names if layer.shard_for(name) == 1)
    servers[0].stop()
    layer.send(on_up + "a", {"n": 1})
    # The blocking receive over both shards keeps serving from the healthy one.
    with _logged(f"Blocking receive on redis://127.0.0.1:{servers[0].port}/0 failed") as failed:
        assert layer.receive([on_down, on_up], block=True) == (on_up + "a", {"n": 1})
        # The down shard's pop is still retrying its connection: wait until it has failed,
        # or the restart below would make it succeed and there would be no outage to end.
        assert failed.wait(QUICKLY)
    assert _recoveries(caplog, servers[0].port) == []
    with _logged(f":{servers[0].port}/0 {RECOVERED}") as recovered:
        servers[0].start()
        layer.send(on_down + "a", {"n": 2})
        deadline = time.monotonic() + QUICKLY
        received = None
        while received is None and time.monotonic() < deadline:  # the shard's backoff is short
            _, received = layer.receive([on_down, on_up], block=True)
        assert received == {"n": 2}
        # Said by the pool thread whose pop succeeded, right after it handed the message over
        # (so possibly after this receive returned).
        assert recovered.wait(QUICKLY)
    assert _recoveries(caplog, servers[1].port) == []
