"""In-process channel layer for ``runserver``, tests and single-process development.

Theory of operation
    All state lives behind one lock: a FIFO per queue key (the channel name, or the ``prefix!``
    of a process-local channel, whose members share one queue and one capacity), group
    memberships, and counters.  Messages are validated and copied on send so later mutation by
    the sender cannot change what is delivered.

    Blocking receives never sleep-poll.  A receiver that finds nothing registers a *waiter* on
    each queue key it is interested in and waits on it; ``send`` wakes the waiters of the key
    it appended to.  Threads wait on a ``threading.Event``; coroutines on an asyncio future
    that is resolved with ``call_soon_threadsafe``, so a worker thread can wake the interface
    server's event loop.  Every wait is bounded by ``receive_timeout``.

    Each queue is ordered by deadline (the expiry is the same for every message), so expired
    messages are always at the head and are dropped there, on send, on receive and in a
    sweep that runs at most once a second from those same calls.  Dropping an expired message
    removes its channel from every group, the garbage collection the spec recommends.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .base import BaseChannelLayer, CapacitySpec, Delivery
from .validation import (
    copy_message,
    non_local_name,
    validate_channel_name,
    validate_group_name,
    validate_receive_channels,
)

__all__ = ["ChannelLayer", "InMemoryChannelLayer"]


class _Entry(NamedTuple):
    deadline: float
    channel: str
    attempts: int
    message: dict[str, Any]
    shared: bool  # the same dict is queued for several group members; copy on delivery


class _ThreadWaiter:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def wake(self) -> None:
        self.event.set()


class _AsyncWaiter:
    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        def resolve() -> None:
            if not self.future.done():
                self.future.set_result(None)

        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(resolve)


_Waiter = _ThreadWaiter | _AsyncWaiter


class InMemoryChannelLayer(BaseChannelLayer):
    """Thread-safe, single-process channel layer; see the module docstring."""

    extensions = ["groups", "flush", "statistics", "asyncio", "async"]
    local_only = True

    def __init__(
        self,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: CapacitySpec = None,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            expiry=expiry,
            group_expiry=group_expiry,
            capacity=capacity,
            channel_capacity=channel_capacity,
            **kwargs,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Entry]] = {}
        self._groups: dict[str, dict[str, float]] = {}
        self._memberships: dict[str, set[str]] = {}
        self._waiters: dict[str, set[_Waiter]] = {}
        self._next_sweep = 0.0
        self._messages_count = 0
        self._channel_full_count = 0
        self._expired_count = 0
        self._group_full_count = 0
        self._channel_stats: dict[str, list[int]] = {}

    # -- internals (call with the lock held) --------------------------------------------

    def _maybe_sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(1.0, self.expiry)
        for key in list(self._queues):
            self._expire_head(key, now)

    def _expire_head(self, key: str, now: float) -> None:
        queue = self._queues.get(key)
        if queue is None:
            return
        while queue and queue[0].deadline <= now:
            entry = queue.popleft()
            self._expired_count += 1
            self._forget_channel(entry.channel)
        if not queue:
            del self._queues[key]

    def _forget_channel(self, channel: str) -> None:
        """Spec GC: a member whose message expired unread is removed from every group."""
        for group in self._memberships.pop(channel, ()):
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]

    def _enqueue(self, channel: str, message: dict[str, Any], attempts: int, shared: bool,
                 now: float) -> bool:
        key = non_local_name(channel)
        self._expire_head(key, now)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        if len(queue) >= self.get_capacity(channel):
            if not queue:
                del self._queues[key]
            return False
        queue.append(_Entry(now + self.expiry, channel, attempts, message, shared))
        self._messages_count += 1
        if "?" not in key:
            stats = self._channel_stats.setdefault(key, [0, 0])
            stats[0] += 1
        for waiter in self._waiters.get(key, ()):
            waiter.wake()
        return True

    def _count_full(self, channel: str) -> None:
        self._channel_full_count += 1
        key = non_local_name(channel)
        if "?" not in key:
            self._channel_stats.setdefault(key, [0, 0])[1] += 1

    def _take(self, keys: list[str], max_messages: int, now: float) -> list[Delivery]:
        self._maybe_sweep(now)
        random.shuffle(keys)  # fairness: a busy channel must not starve a quiet one
        taken: list[Delivery] = []
        for key in keys:
            self._expire_head(key, now)
            queue = self._queues.get(key)
            while queue and len(taken) < max_messages:
                entry = queue.popleft()
                message = copy_message(entry.message)[0] if entry.shared else entry.message
                taken.append(Delivery(entry.channel, message, entry.attempts))
            if queue is not None and not queue:
                del self._queues[key]
            if len(taken) >= max_messages:
                break
        return taken

    def _register(self, keys: list[str], waiter: _Waiter) -> None:
        for key in keys:
            self._waiters.setdefault(key, set()).add(waiter)

    def _unregister(self, keys: list[str], waiter: _Waiter) -> None:
        for key in keys:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[key]

    # -- core API ------------------------------------------------------------------------

    def send(self, channel: str, message: dict[str, Any], *, attempts: int = 0) -> None:
        """Queue a copy of ``message``; see :meth:`BaseChannelLayer.send`."""
        validate_channel_name(channel)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ValueError(f"attempts must be a non-negative int, not {attempts!r}")
        copied, size = copy_message(message)
        self.check_size(size, channel)
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            if not self._enqueue(channel, copied, attempts, False, now):
                self._count_full(channel)
                raise self.ChannelFull(
                    f"Channel {channel!r} is at capacity ({self.get_capacity(channel)} messages)"
                )

    def fetch(
        self, channels: Iterable[str], block: bool = False, max_messages: int = 1
    ) -> list[Delivery]:
        """Receive up to ``max_messages``; see :meth:`BaseChannelLayer.fetch`."""
        keys = validate_receive_channels(channels)
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        deadline = time.monotonic() + self.receive_timeout
        waiter: _ThreadWaiter | None = None
        try:
            while True:
                with self._lock:
                    taken = self._take(keys, max_messages, self._clock())
                    if taken or not block:
                        return taken
                    if waiter is None:
                        waiter = _ThreadWaiter()
                        self._register(keys, waiter)
                    waiter.event.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not waiter.event.wait(remaining):
                    return []
        finally:
            if waiter is not None:
                with self._lock:
                    self._unregister(keys, waiter)

    # -- groups ----------------------------------------------------------------------------

    def group_add(self, group: str, channel: str) -> None:
        """Add ``channel`` to ``group``; see :meth:`BaseChannelLayer.group_add`."""
        validate_group_name(group)
        validate_channel_name(channel)
        with self._lock:
            self._groups.setdefault(group, {})[channel] = self._clock()
            self._memberships.setdefault(channel, set()).add(group)

    def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; see :meth:`BaseChannelLayer.group_discard`."""
        validate_group_name(group)
        validate_channel_name(channel)
        with self._lock:
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]
            groups = self._memberships.get(channel)
            if groups is not None:
                groups.discard(group)
                if not groups:
                    del self._memberships[channel]

    def _live_members(self, group: str, now: float) -> list[str]:
        members = self._groups.get(group)
        if not members:
            return []
        cutoff = now - self.group_expiry
        stale = [channel for channel, added in members.items() if added <= cutoff]
        for channel in stale:
            del members[channel]
            groups = self._memberships.get(channel)
            if groups is not None:
                groups.discard(group)
                if not groups:
                    del self._memberships[channel]
        if not members:
            del self._groups[group]
            return []
        return list(members)

    def group_channels(self, group: str) -> list[str]:
        """Members of ``group`` whose membership has not expired."""
        validate_group_name(group)
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            return self._live_members(group, now)

    def send_group(self, group: str, message: dict[str, Any]) -> None:
        """Send to every member; members at capacity are skipped and counted."""
        validate_group_name(group)
        copied, size = copy_message(message)
        self.check_size(size, f"group {group}")
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            for channel in self._live_members(group, now):
                if not self._enqueue(channel, copied, 0, True, now):
                    self._count_full(channel)
                    self._group_full_count += 1

    # -- flush, statistics ---------------------------------------------------------------

    def flush(self) -> None:
        """Drop every message and group; blocked receivers keep waiting for new messages."""
        with self._lock:
            self._queues.clear()
            self._groups.clear()
            self._memberships.clear()
            self._channel_stats.clear()
            self._messages_count = 0
            self._channel_full_count = 0
            self._expired_count = 0
            self._group_full_count = 0

    def global_statistics(self) -> dict[str, int]:
        """Totals since start (or the last flush)."""
        with self._lock:
            return {
                "messages_count": self._messages_count,
                "channel_full_count": self._channel_full_count,
                "messages_expired": self._expired_count,
                "group_send_skipped": self._group_full_count,
                "messages_pending": sum(len(queue) for queue in self._queues.values()),
            }

    def channel_statistics(self, channel: str) -> dict[str, float]:
        """Counters, pending count and age (seconds) of the oldest pending message."""
        key = non_local_name(channel)
        with self._lock:
            now = self._clock()
            self._expire_head(key, now)
            queue = self._queues.get(key, ())
            counts = self._channel_stats.get(key, [0, 0])
            age = (now - (queue[0].deadline - self.expiry)) if queue else 0.0
            return {
                "messages_count": counts[0],
                "channel_full_count": counts[1],
                "messages_pending": len(queue),
                "messages_max_age": age,
            }

    # -- asyncio API -----------------------------------------------------------------------

    async def send_async(self, channel: str, message: dict[str, Any]) -> None:
        """Same as :meth:`send`; in-memory sends never wait."""
        self.send(channel, message)

    async def fetch_async(self, channels: Iterable[str], max_messages: int = 1) -> list[Delivery]:
        """Wait on the running event loop for messages; ``[]`` after ``receive_timeout``."""
        keys = validate_receive_channels(channels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.receive_timeout
        waiter: _AsyncWaiter | None = None
        try:
            while True:
                with self._lock:
                    taken = self._take(keys, max_messages, self._clock())
                    if taken:
                        return taken
                    if waiter is not None:
                        self._unregister(keys, waiter)
                    waiter = _AsyncWaiter(loop)
                    self._register(keys, waiter)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                try:
                    await asyncio.wait_for(asyncio.shield(waiter.future), remaining)
                except asyncio.TimeoutError:
                    return []
        finally:
            if waiter is not None:
                with self._lock:
                    self._unregister(keys, waiter)

    async def group_add_async(self, group: str, channel: str) -> None:
        """Same as :meth:`group_add`."""
        self.group_add(group, channel)

    async def group_discard_async(self, group: str, channel: str) -> None:
        """Same as :meth:`group_discard`."""
        self.group_discard(group, channel)

    async def send_group_async(self, group: str, message: dict[str, Any]) -> None:
        """Same as :meth:`send_group`."""
        self.send_group(group, message)


#: asgiref 1.x's class name, for ``BACKEND = "asgiref.inmemory.ChannelLayer"`` settings.
ChannelLayer = InMemoryChannelLayer
