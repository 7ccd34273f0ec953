"""Tests for interface_server.layer_io: the batching sender and its admission queues, the
reader and the health monitor, against the real in-memory layer.

The in-memory layer's send coroutines never suspend, so ``Deferred.fromCoroutine`` runs them to
completion at once; every timer runs on a ``task.Clock``.  The reader test uses a real asyncio
event loop because the in-memory ``fetch_async`` waits on one.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred

from channels_classic.layers.base import ChannelFull, LayerUnavailable, MessageTooLarge
from channels_classic.layers.inmemory import InMemoryChannelLayer
from interface_server.layer_io import (
    ADMISSION_BACKOFF_MAX,
    Backoff,
    LayerHealth,
    LayerReader,
    LayerSender,
    asyncio_runner,
)

run_now = Deferred.fromCoroutine


class Recorder:
    """Collects ``on_done`` outcomes by label."""

    def __init__(self) -> None:
        self.outcomes: dict[str, BaseException | None] = {}

    def __call__(self, label: str) -> Any:
        def done(error: BaseException | None) -> None:
            assert label not in self.outcomes, f"{label} reported twice"
            self.outcomes[label] = error

        return done


def make(capacity: int = 100, admission_timeout: float = 5.0, queue_limit: int = 1000,
         layer: Any = None) -> tuple[LayerSender, InMemoryChannelLayer, task.Clock, list[Any]]:
    clock = task.Clock()
    layer = layer or InMemoryChannelLayer(capacity=capacity, clock=clock.seconds)
    unavailable: list[Any] = []
    sender = LayerSender(layer, clock, run_now, admission_timeout=admission_timeout,
                         queue_limit=queue_limit, on_unavailable=unavailable.append)
    return sender, layer, clock, unavailable


def drain(layer: InMemoryChannelLayer, channel: str, limit: int = 1000) -> list[Any]:
    return [d.content["n"] for d in layer.fetch([channel], max_messages=limit)]


def test_one_batch_per_reactor_turn() -> None:
    sender, layer, clock, _ = make()
    record = Recorder()
    for n in range(10):
        sender.send("a", {"n": n}, record(f"a{n}"))
    sender.send("b", {"n": 99}, record("b"))
    assert record.outcomes == {}  # nothing is sent inside the caller's turn
    clock.advance(0)
    assert sender.stats.batches == 1 and sender.stats.sent == 11
    assert all(v is None for v in record.outcomes.values()) and len(record.outcomes) == 11
    assert drain(layer, "a") == list(range(10))
    assert sender.idle


def test_full_channel_parks_keeps_order_and_retries_with_one_timer() -> None:
    sender, layer, clock, _ = make(capacity=3)
    record = Recorder()
    for n in range(8):
        sender.send("websocket.receive", {"n": n}, record(str(n)))
    sender.send("other", {"n": 100}, record("other"))
    clock.advance(0)
    assert sender.parked == 5
    assert record.outcomes["other"] is None  # a full channel does not block the others
    # One retry timer for the blocked channel, not one per waiting message.
    assert len(clock.getDelayedCalls()) == 1
    delivered: list[int] = []
    for _ in range(200):
        delivered += drain(layer, "websocket.receive", limit=2)
        clock.advance(ADMISSION_BACKOFF_MAX)
        if len(delivered) == 8:
            break
    assert delivered == list(range(8))
    assert all(record.outcomes[str(n)] is None for n in range(8))
    assert sender.stats.admitted_after_wait == 5 and sender.idle
    assert clock.getDelayedCalls() == []


def test_new_messages_queue_behind_parked_ones() -> None:
    sender, layer, clock, _ = make(capacity=1)
    sender.send("c", {"n": 0})
    sender.send("c", {"n": 1})
    clock.advance(0)
    sender.send("c", {"n": 2})  # arrives while 1 is parked: must not overtake it
    clock.advance(0)
    assert sender.parked == 2
    assert drain(layer, "c") == [0]
    seen: list[int] = []
    for _ in range(50):
        clock.advance(ADMISSION_BACKOFF_MAX)
        seen += drain(layer, "c")
    assert seen == [1, 2]


def test_gives_up_after_admission_timeout_in_arrival_order() -> None:
    sender, _layer, clock, _ = make(capacity=1, admission_timeout=1.0)
    record = Recorder()
    for n in range(4):
        sender.send("full", {"n": n}, record(str(n)))
    clock.advance(0)
    clock.advance(0.5)
    assert set(record.outcomes) == {"0"}
    for _ in range(10):
        clock.advance(ADMISSION_BACKOFF_MAX)
    assert all(isinstance(record.outcomes[str(n)], ChannelFull) for n in (1, 2, 3))
    assert sender.stats.refused_full == 3 and sender.parked == 0 and sender.idle


def test_zero_admission_timeout_refuses_at_once() -> None:
    sender, _, clock, _ = make(capacity=1, admission_timeout=0)
    record = Recorder()
    sender.send("x", {"n": 0}, record("0"))
    sender.send("x", {"n": 1}, record("1"))
    clock.advance(0)
    assert record.outcomes["0"] is None and isinstance(record.outcomes["1"], ChannelFull)


def test_queue_limit_bounds_parked_messages() -> None:
    sender, _, clock, _ = make(capacity=1, queue_limit=2)
    record = Recorder()
    for n in range(5):
        sender.send("x", {"n": n}, record(str(n)))
    clock.advance(0)
    assert sender.parked == 2
    assert [isinstance(record.outcomes.get(str(n)), ChannelFull) for n in range(5)] == [
        False, False, False, True, True]


def test_cancelled_messages_are_never_sent_or_reported() -> None:
    sender, layer, clock, _ = make(capacity=1)
    record = Recorder()
    sender.send("x", {"n": 0}, record("0"))
    parked = sender.send("x", {"n": 1}, record("1"))
    queued = sender.send("y", {"n": 2}, record("2"))
    queued.cancel()
    clock.advance(0)
    parked.cancel()
    assert drain(layer, "x") == [0]
    for _ in range(5):
        clock.advance(ADMISSION_BACKOFF_MAX)
    assert drain(layer, "x") == [] and drain(layer, "y") == []
    assert set(record.outcomes) == {"0"} and sender.idle


def test_other_refusals_are_reported_not_parked() -> None:
    layer = InMemoryChannelLayer(max_message_size=100)
    sender, _, clock, _ = make(layer=layer)
    record = Recorder()
    sender.send("x", {"data": b"x" * 500}, record("big"))
    sender.send("bad name!", {}, record("name"))
    sender.send("x", {"n": object()}, record("type"))  # type: ignore[dict-item]
    sender.send("x", {"n": 1}, record("ok"))
    clock.advance(0)
    assert isinstance(record.outcomes["big"], MessageTooLarge)
    assert isinstance(record.outcomes["name"], TypeError)
    assert isinstance(record.outcomes["type"], TypeError)
    assert record.outcomes["ok"] is None
    assert sender.stats.errors == 3


class FlakyLayer(InMemoryChannelLayer):
    """In-memory layer that can pretend its backend is unreachable."""

    down = False
    identity_value = "first"

    async def send_many_async(self, items: Any) -> Any:
        if self.down:
            raise LayerUnavailable("connection refused")
        return await super().send_many_async(items)

    def identity(self) -> str:
        if self.down:
            raise LayerUnavailable("connection refused")
        return self.identity_value


def test_unavailable_layer_fails_the_batch_and_reports() -> None:
    layer = FlakyLayer()
    sender, _, clock, unavailable = make(layer=layer)
    record = Recorder()
    layer.down = True
    sender.send("x", {"n": 1}, record("a"))
    clock.advance(0)
    assert isinstance(record.outcomes["a"], LayerUnavailable)
    assert len(unavailable) == 1 and sender.idle
    layer.down = False
    sender.send("x", {"n": 2}, record("b"))
    clock.advance(0)
    assert record.outcomes["b"] is None


def test_wait_idle_and_abandon() -> None:
    sender, _, clock, _ = make(capacity=1)
    idle: list[object] = []
    sender.wait_idle().addCallback(idle.append)
    assert idle == [None]
    sender.send("x", {"n": 0})
    sender.send("x", {"n": 1})
    clock.advance(0)
    later: list[object] = []
    sender.wait_idle().addCallback(later.append)
    assert later == []
    assert sender.abandon() == 1
    assert later == [None] and clock.getDelayedCalls() == []


def test_backoff() -> None:
    backoff = Backoff(0.1, 0.5)
    assert [backoff.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1


def test_health_detects_data_loss_and_outages() -> None:
    layer = FlakyLayer()
    clock = task.Clock()
    resets: list[tuple[str, str]] = []
    health = LayerHealth(layer, clock, run_now, lambda old, new: resets.append((old, new)),
                         check_interval=5)
    health.start()
    assert health.identity == "first" and health.available
    layer.down = True
    clock.advance(5)
    assert not health.available and health.outages == 1
    layer.down = False
    layer.identity_value = "second"  # the backend came back empty
    clock.advance(5)
    assert health.available and resets == [("first", "second")]
    clock.advance(5)
    assert resets == [("first", "second")]
    health.note_unavailable(LayerUnavailable("x"))
    layer.identity_value = "third"
    health.note_ok()  # recovery triggers an immediate check
    assert resets[-1] == ("second", "third")
    health.stop()
    assert clock.getDelayedCalls() == []


def test_reader_dispatches_in_order_and_stops() -> None:
    loop = asyncio.new_event_loop()
    try:
        layer = InMemoryChannelLayer(receive_timeout=0.2)
        clock = task.Clock()
        got: list[tuple[str, int]] = []
        enough = asyncio.Event()

        def dispatch(channel: str, message: dict[str, Any]) -> None:
            got.append((channel, message["n"]))
            if len(got) == 25:
                enough.set()

        reader = LayerReader(layer, ["proc!"], dispatch, clock, asyncio_runner(loop), batch=10)
        for n in range(20):
            layer.send(f"proc!c{n % 3}", {"n": n})
        reader.start()

        def later() -> None:  # from another thread, waking the loop without polling
            for n in range(20, 25):
                layer.send("proc!late", {"n": n})

        async def main() -> None:
            await asyncio.sleep(0.05)
            threading.Thread(target=later).start()
            await asyncio.wait_for(enough.wait(), 5)
            reader.stop()
            await asyncio.sleep(0.01)

        loop.run_until_complete(main())
        assert [n for _, n in got] == list(range(25))
        assert got[0] == ("proc!c0", 0)
        assert reader.received == 25
    finally:
        loop.close()


def test_reader_backs_off_on_errors() -> None:
    class Broken(InMemoryChannelLayer):
        calls = 0

        async def fetch_async(self, channels: Any, max_messages: int = 1) -> Any:
            Broken.calls += 1
            if Broken.calls <= 2:
                raise LayerUnavailable("down")
            return []

    clock = task.Clock()
    layer = Broken()
    health = LayerHealth(layer, clock, run_now, lambda a, b: None, check_interval=0)
    pending: list[Deferred[Any]] = []

    def run(coro: Any) -> Deferred[Any]:
        if Broken.calls >= 2:  # third call: park it, as a real blocking receive would
            Broken.calls += 1
            coro.close()
            d: Deferred[Any] = Deferred()
            pending.append(d)
            return d
        return run_now(coro)

    reader = LayerReader(layer, ["p!"], lambda c, m: None, clock, run, health=health)
    reader.start()
    assert Broken.calls == 1 and not health.available
    clock.advance(0.1)
    assert Broken.calls == 2
    clock.advance(0.1)
    assert Broken.calls == 2  # second delay is 0.2 s
    clock.advance(0.1)
    assert len(pending) == 1
    pending[0].callback([])
    assert health.available
    reader.stop()


@pytest.mark.parametrize("results", [[None], [None, None, None]])
def test_mismatched_result_count_is_an_error_for_every_item(results: list[Any]) -> None:
    class Odd(InMemoryChannelLayer):
        async def send_many_async(self, items: Any) -> Any:
            return results

    sender, _, clock, _ = make(layer=Odd())
    record = Recorder()
    sender.send("x", {}, record("a"))
    sender.send("x", {}, record("b"))
    clock.advance(0)
    assert all(isinstance(v, RuntimeError) for v in record.outcomes.values())
