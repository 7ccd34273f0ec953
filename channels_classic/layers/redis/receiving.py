"""Bookkeeping for blocking receives that wait on several shards at once.

A receive over channels that live on several shards starts one ``BLMPOP`` per shard, all in
flight together (threads for the sync API, tasks for asyncio), and returns as soon as any of
them brings something back.  The pops that are still waiting are never cancelled: cancelling a
pop whose reply is already on the wire would lose the message.  Instead every pop, whoever
started it, puts what it popped into a process-local buffer, and every receive looks in that
buffer first.  So a message popped "too late" is handed to the next receive on its channel
(subject to its deadline, like any other message).

Pops are not started blindly: for each (waiter kind, shard, channel set) the state counts the
pops in flight and the receivers waiting, and a receiver only starts a pop on a shard while
there are fewer pops than receivers.  A single-threaded reader thus keeps at most one pop per
shard in flight, and ``--threads N`` workers get up to N.

A shard whose pop failed is left alone for a short, growing backoff while the others keep
serving; a receive only fails (with the shard's error) when every shard it needs is failing.

Wakeups are event-driven: every change (a pop finished, entries buffered) wakes the registered
waiters — a ``threading.Event`` for threads, a future resolved with ``call_soon_threadsafe``
for coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Sequence

__all__ = ["MIN_BLOCK", "POP_GRACE", "AsyncWaiter", "PopState", "ThreadWaiter", "deadline_of"]

#: Seconds a multi-shard receive waits, after its own window, for pops it already started.
POP_GRACE = 0.25
#: Shortest BLMPOP timeout worth sending (0 would mean "block forever").
MIN_BLOCK = 0.005
#: Buffered entries above which expired ones are purged (at most once a second).
PURGE_THRESHOLD = 1000
#: First backoff after a shard fails, doubled per consecutive failure up to the cap.
SHARD_BACKOFF_BASE = 0.1
SHARD_BACKOFF_CAP = 2.0


def deadline_of(entry: bytes) -> int:
    """The deadline (ms) at the start of an envelope; 0 (expired) when unreadable."""
    end = entry.find(b"|")
    try:
        return int(entry[:end]) if end > 0 else 0
    except ValueError:
        return 0


class ThreadWaiter:
    """Wakes one blocked thread."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def wake(self) -> None:
        """Called with the state lock held; must not block."""
        self.event.set()


class AsyncWaiter:
    """Wakes one coroutine on its event loop, from any thread."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def rearm(self) -> None:
        """Replace a resolved future; call on the waiter's own loop with the lock held."""
        if self.future.done():
            self.future = self.loop.create_future()

    def wake(self) -> None:
        """Called with the state lock held; must not block."""
        future = self.future

        def resolve() -> None:
            if not future.done():
                future.set_result(None)

        try:
            same_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # called from a thread without a loop
            same_loop = False
        if same_loop:
            # No self-pipe write needed when the pop finished on the waiter's own loop.
            self.loop.call_soon(resolve)
            return
        # A closed loop means nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(resolve)


Waiter = ThreadWaiter | AsyncWaiter


class PopState:
    """Shared by every thread and event loop using one layer; all methods take ``lock``."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self.lock = threading.Lock()
        self._clock_ms = clock_ms
        self._buffer: dict[str, deque[bytes]] = {}
        #: The shard each buffered list key was popped from, to give entries back on close.
        self._origin: dict[str, int] = {}
        self._size = 0
        self._next_purge = 0.0
        #: Buffered entries dropped because they expired before anyone asked for them.
        self.expired_dropped = 0
        self._inflight: Counter[tuple[Hashable, int, frozenset[str]]] = Counter()
        self._waiting: Counter[tuple[Hashable, frozenset[str]]] = Counter()
        self._failures: dict[int, int] = {}
        self._down_until: dict[int, float] = {}
        self._errors: dict[int, BaseException] = {}
        self._waiters: set[Waiter] = set()

    # -- buffer ----------------------------------------------------------------------------

    def has_buffered(self) -> bool:
        """Cheap check without the lock (a stale answer only costs one locked look)."""
        return bool(self._buffer)

    def take(self, keys: Iterable[str], limit: int) -> list[tuple[str, bytes]]:
        """Remove up to ``limit`` buffered entries of ``keys`` (lock held by the caller)."""
        taken: list[tuple[str, bytes]] = []
        if not self._buffer:
            return taken
        for key in keys:
            queue = self._buffer.get(key)
            while queue and len(taken) < limit:
                taken.append((key, queue.popleft()))
            if queue is not None and not queue:
                del self._buffer[key]
            if len(taken) >= limit:
                break
        self._size -= len(taken)
        return taken

    def take_now(self, keys: Iterable[str], limit: int) -> list[tuple[str, bytes]]:
        """:meth:`take` with the lock acquired here."""
        if not self._buffer:
            return []
        with self.lock:
            return self.take(keys, limit)

    def buffered_count(self) -> int:
        """How many popped entries wait in this process."""
        with self.lock:
            return self._size

    def clear(self) -> None:
        """Forget every buffered entry (``flush``)."""
        with self.lock:
            self._buffer.clear()
            self._origin.clear()
            self._size = 0

    def drain(self) -> list[tuple[int, str, list[bytes]]]:
        """Remove every buffered entry: ``(shard it came from, list key, entries in order)``."""
        with self.lock:
            drained = [
                (self._origin.get(key, 0), key, list(queue))
                for key, queue in self._buffer.items()
                if queue
            ]
            self._buffer.clear()
            self._origin.clear()
            self._size = 0
        return drained

    def _purge_expired(self, now: float) -> None:
        """Drop expired entries nobody asked for, so the buffer stays bounded (lock held)."""
        if self._size <= PURGE_THRESHOLD or now < self._next_purge:
            return
        self._next_purge = now + 1.0
        now_ms = self._clock_ms()
        for key in list(self._buffer):
            queue = self._buffer[key]
            live = deque(entry for entry in queue if deadline_of(entry) > now_ms)
            dropped = len(queue) - len(live)
            self._size -= dropped
            self.expired_dropped += dropped
            if live:
                self._buffer[key] = live
            else:
                del self._buffer[key]

    # -- waiters ---------------------------------------------------------------------------

    def add_waiter(self, waiter: Waiter) -> None:
        """Register ``waiter`` to be woken on every change (lock held)."""
        self._waiters.add(waiter)

    def remove_waiter(self, waiter: Waiter) -> None:
        """Unregister ``waiter`` (lock held)."""
        self._waiters.discard(waiter)

    def _wake_all(self) -> None:
        for waiter in self._waiters:
            waiter.wake()

    # -- pops in flight --------------------------------------------------------------------

    def begin_wait(self, kind: Hashable, keyset: frozenset[str]) -> None:
        """A receiver of ``kind`` starts waiting on ``keyset`` (lock held)."""
        self._waiting[(kind, keyset)] += 1

    def end_wait(self, kind: Hashable, keyset: frozenset[str]) -> None:
        """The receiver stopped waiting (lock held)."""
        key = (kind, keyset)
        self._waiting[key] -= 1
        if self._waiting[key] <= 0:
            del self._waiting[key]

    def inflight(self, kind: Hashable, keyset: frozenset[str], shards: Iterable[int]) -> int:
        """Pops of ``kind`` in flight for ``keyset`` on ``shards`` (lock held)."""
        return sum(self._inflight.get((kind, shard, keyset), 0) for shard in shards)

    def is_down(self, shard: int, now: float) -> bool:
        """True while ``shard`` is in its failure backoff (lock held)."""
        return self._down_until.get(shard, 0.0) > now

    def pops_to_start(
        self,
        kind: Hashable,
        keyset: frozenset[str],
        shards: Sequence[int],
        now: float,
        probe: bool,
    ) -> list[int]:
        """Shards that need one more pop for ``keyset``; counts them as in flight (lock held).

        Args:
            probe: also start pops on shards in backoff (used when every shard is in backoff,
                so a receive tries the servers once instead of failing without asking).
        """
        wanted = self._waiting.get((kind, keyset), 0)
        starts: list[int] = []
        for shard in shards:
            if not probe and self.is_down(shard, now):
                continue
            key = (kind, shard, keyset)
            if self._inflight.get(key, 0) < wanted:
                self._inflight[key] += 1
                starts.append(shard)
        return starts

    def add_entries(self, shard: int, entries: list[tuple[str, bytes]]) -> None:
        """Buffer entries popped outside a receive (see ``fetch_ahead``); wake everyone."""
        if not entries:
            return
        with self.lock:
            for list_key, entry in entries:
                self._buffer.setdefault(list_key, deque()).append(entry)
                self._origin[list_key] = shard
            self._size += len(entries)
            self._wake_all()

    def pop_finished(
        self,
        kind: Hashable,
        shard: int,
        keyset: frozenset[str],
        entries: list[tuple[str, bytes]],
        error: BaseException | None,
        now: float,
    ) -> bool:
        """Record a finished pop: buffer its entries, update shard health, wake everyone.

        Returns True when this pop succeeded on a shard whose previous pop had failed (the
        shard recovered), so the caller can say so once per outage.
        """
        recovered = False
        with self.lock:
            key = (kind, shard, keyset)
            self._inflight[key] -= 1
            if self._inflight[key] <= 0:
                del self._inflight[key]
            for list_key, entry in entries:
                self._buffer.setdefault(list_key, deque()).append(entry)
                self._origin[list_key] = shard
            self._size += len(entries)
            self._purge_expired(now)
            if error is None:
                recovered = self._failures.pop(shard, None) is not None
                self._down_until.pop(shard, None)
                self._errors.pop(shard, None)
            elif not isinstance(error, asyncio.CancelledError):
                failures = self._failures.get(shard, 0) + 1
                self._failures[shard] = failures
                backoff = min(SHARD_BACKOFF_CAP, SHARD_BACKOFF_BASE * 2 ** (failures - 1))
                self._down_until[shard] = now + backoff
                self._errors[shard] = error
            self._wake_all()
        return recovered

    def all_down(self, shards: Sequence[int], now: float) -> bool:
        """True when every shard in ``shards`` is in backoff (lock held)."""
        return all(self.is_down(shard, now) for shard in shards)

    def failing(self, shard: int) -> bool:
        """True when the last pop on ``shard`` failed (lock held)."""
        return self._failures.get(shard, 0) > 0

    def all_failing(self, shards: Sequence[int]) -> bool:
        """True when the last pop on every shard in ``shards`` failed (lock held)."""
        return all(self._failures.get(shard, 0) > 0 for shard in shards)

    def error_for(self, shards: Sequence[int]) -> BaseException | None:
        """The most relevant recorded error among ``shards`` (lock held)."""
        for shard in shards:
            error = self._errors.get(shard)
            if error is not None:
                return error
        return None

    def next_retry(self, shards: Sequence[int], now: float) -> float | None:
        """Earliest end of a backoff among ``shards`` that is still running (lock held)."""
        ends = [self._down_until[s] for s in shards if self._down_until.get(s, 0.0) > now]
        return min(ends) if ends else None
