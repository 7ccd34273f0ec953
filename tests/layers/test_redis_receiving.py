"""Bookkeeping of multi-shard blocking receives (pure logic, no Redis)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from channels_classic.layers import LayerUnavailable
from channels_classic.layers.redis.planning import DropLog
from channels_classic.layers.redis.receiving import (
    PURGE_THRESHOLD,
    SHARD_BACKOFF_BASE,
    AsyncWaiter,
    PopState,
    ThreadWaiter,
    deadline_of,
)

KEYS = frozenset({"asgi:a", "asgi:b"})


def entry(deadline: int, text: str = "x") -> bytes:
    return b"%d|0|a|%s" % (deadline, text.encode())


def test_deadline_of() -> None:
    assert deadline_of(entry(1234)) == 1234
    assert deadline_of(b"garbage") == 0
    assert deadline_of(b"x|0|a|b") == 0


def test_pops_started_only_while_fewer_than_waiting_receivers() -> None:
    state = PopState(lambda: 0)
    with state.lock:
        state.begin_wait("sync", KEYS)
        assert state.pops_to_start("sync", KEYS, [0, 1, 2], 0.0, probe=False) == [0, 1, 2]
        assert state.pops_to_start("sync", KEYS, [0, 1, 2], 0.0, probe=False) == []
        state.begin_wait("sync", KEYS)  # a second receiver: one more pop per shard
        assert state.pops_to_start("sync", KEYS, [0, 1, 2], 0.0, probe=False) == [0, 1, 2]
        assert state.inflight("sync", KEYS, [0, 1, 2]) == 6
        # Another kind of waiter (an event loop) has its own pops.
        state.begin_wait("loop", KEYS)
        assert state.pops_to_start("loop", KEYS, [0], 0.0, probe=False) == [0]
    state.pop_finished("sync", 1, KEYS, [("asgi:a", entry(10))], None, 0.0)
    with state.lock:
        assert state.inflight("sync", KEYS, [0, 1, 2]) == 5
        assert state.take(["asgi:b", "asgi:a"], 5) == [("asgi:a", entry(10))]
        state.end_wait("sync", KEYS)
        state.end_wait("sync", KEYS)


def test_finished_pops_wake_every_waiter() -> None:
    state = PopState(lambda: 0)
    thread_waiter = ThreadWaiter()
    loop = asyncio.new_event_loop()
    try:
        async_waiter = AsyncWaiter(loop)
        with state.lock:
            state.add_waiter(thread_waiter)
            state.add_waiter(async_waiter)
        state.pop_finished("sync", 0, KEYS, [], None, 0.0)
        assert thread_waiter.event.is_set()
        loop.run_until_complete(asyncio.wait_for(async_waiter.future, 5))
        with state.lock:
            async_waiter.rearm()
            assert not async_waiter.future.done()
            state.remove_waiter(thread_waiter)
            state.remove_waiter(async_waiter)
    finally:
        loop.close()


def test_failing_shard_backs_off_and_recovers() -> None:
    state = PopState(lambda: 0)
    error = LayerUnavailable("Redis at redis://a:1/0 is unavailable")
    with state.lock:
        state.begin_wait("sync", KEYS)
        state.pops_to_start("sync", KEYS, [0, 1], 0.0, probe=False)
    state.pop_finished("sync", 0, KEYS, [], error, 10.0)
    with state.lock:
        assert state.is_down(0, 10.0) and not state.is_down(1, 10.0)
        assert not state.all_failing([0, 1])
        assert state.all_failing([0]) and state.error_for([0, 1]) is error
        assert state.next_retry([0, 1], 10.0) == 10.0 + SHARD_BACKOFF_BASE
        # While shard 0 backs off only shard 1 gets pops, unless probing.
        assert state.pops_to_start("sync", KEYS, [0, 1], 10.0, probe=False) == []
        assert state.pops_to_start("sync", KEYS, [0], 10.0, probe=True) == [0]
    state.pop_finished("sync", 0, KEYS, [], error, 10.05)
    with state.lock:
        assert state.next_retry([0], 10.05) == 10.05 + 2 * SHARD_BACKOFF_BASE
    state.pop_finished("sync", 0, KEYS, [], None, 11.0)
    with state.lock:
        assert not state.is_down(0, 11.0) and not state.all_failing([0])
    state.pop_finished("sync", 1, KEYS, [], asyncio.CancelledError(), 11.0)
    with state.lock:
        assert not state.all_failing([1])  # a cancelled pop says nothing about the shard


def test_expired_entries_nobody_asked_for_are_purged() -> None:
    now_ms = [1_000]
    state = PopState(lambda: now_ms[0])
    with state.lock:
        state.begin_wait("sync", KEYS)
        state.pops_to_start("sync", KEYS, [0, 1], 0.0, probe=False)
    stale = [("asgi:old", entry(500)) for _ in range(PURGE_THRESHOLD)]
    state.pop_finished("sync", 0, KEYS, stale, None, 0.0)
    assert state.buffered_count() == PURGE_THRESHOLD  # at the threshold: kept
    state.pop_finished("sync", 1, KEYS, [("asgi:a", entry(5_000))], None, 0.0)
    assert state.buffered_count() == 1
    assert state.expired_dropped == PURGE_THRESHOLD
    assert state.take_now(["asgi:a"], 10) == [("asgi:a", entry(5_000))]
    state.clear()
    assert state.buffered_count() == 0


def test_drop_log_summarises(caplog: pytest.LogCaptureFixture) -> None:
    drops = DropLog(interval=3600)
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        drops.add("expired before delivery", 2)
        drops.add("expired before delivery", 5)  # within the interval: counted, not logged
        drops.add("skipped", 0)
    assert caplog.messages == ["Dropped messages: 2 expired before delivery"]
    caplog.clear()
    drops.interval = 0
    drops._next = 0.0  # the interval has passed
    with caplog.at_level(logging.WARNING, logger="channels_classic.layers.redis"):
        drops.add("skipped by send_group('room'): member at capacity", 1)
    assert caplog.messages == [
        "Dropped messages: 5 expired before delivery, "
        "1 skipped by send_group('room'): member at capacity"
    ]


def test_pop_finished_reports_a_recovery_once() -> None:
    state = PopState(lambda: 0)
    error = LayerUnavailable("Redis at redis://a:1/0 is unavailable")
    for _ in range(3):
        with state.lock:
            state.begin_wait("sync", KEYS)
            state.pops_to_start("sync", KEYS, [0], 0.0, probe=True)
    assert state.pop_finished("sync", 0, KEYS, [], None, 0.0) is False
    assert state.pop_finished("sync", 0, KEYS, [], error, 1.0) is False
    assert state.pop_finished("sync", 0, KEYS, [], None, 2.0) is True
    with state.lock:
        state.pops_to_start("sync", KEYS, [0], 2.0, probe=True)
    assert state.pop_finished("sync", 0, KEYS, [], None, 3.0) is False
