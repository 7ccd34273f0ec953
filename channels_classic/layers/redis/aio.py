"""The asyncio half of the Redis layer: the same plans, run on ``redis.asyncio`` clients.

Clients are created lazily for the event loop that first uses them (the interface server runs
Twisted on the asyncio reactor, usually after the layer was built), one set per loop.  Blocking
pops run as tasks of their own and are never cancelled by the receive that started them; see
:mod:`.receiving`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base import Delivery, LayerUnavailable
from ..validation import validate_channel_name, validate_group_name, validate_receive_channels
from .planning import SendPlan, Topology, send_failure, shard_failure
from .receiving import MIN_BLOCK, POP_GRACE, AsyncWaiter, PopState
from .transport import AsyncShard

__all__ = ["AsyncMixin", "LoopClients"]


@dataclass
class LoopClients:
    """The asyncio clients and pop tasks of one event loop."""

    shards: list[AsyncShard]
    tasks: set[asyncio.Task[None]]


class AsyncMixin:
    """Coroutine twins of the layer's operations (see the module docstring)."""

    # Set by the layer's constructor.
    connection_kwargs: dict[str, Any]
    receive_timeout: float
    _pops: PopState
    _loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients]
    _loops_lock: threading.Lock
    _pop_name: str
    _loop_numbers: itertools.count[int]
    _closed: bool

    if TYPE_CHECKING:  # provided by the other halves of the layer
        def _topology(self) -> Topology: ...
        def shard_for(self, name: str) -> int: ...
        def _plan_send(self, channel: str, message: object, attempts: int) -> SendPlan: ...
        def _send_call(self, plan: SendPlan, capacity: int, last: bool) -> Any: ...
        def _full_error(self, channel: str) -> Exception: ...
        def _batch_sends(
            self, items: Sequence[tuple[str, dict[str, Any]]],
            results: list[BaseException | None],
        ) -> dict[int, list[tuple[int, SendPlan]]]: ...
        def _keys_by_shard(self, names: Iterable[str]) -> dict[int, list[str]]: ...
        def _deliver(self, entries: Iterable[tuple[str, bytes]]) -> list[Delivery]: ...
        @staticmethod
        def _entries_from_blmpop(result: Any) -> list[tuple[str, bytes]]: ...
        def _log_shard_error(self, shard: int, exc: BaseException) -> None: ...
        def _log_shard_recovered(self, shard: int) -> None: ...
        def _group_add_call(self, group: str, channel: str, shard: int) -> Any: ...
        def _group_discard_call(self, group: str, channel: str) -> Any: ...
        def _group_send_call(self, group: str, body: bytes) -> Any: ...
        def _encode(self, channel: str, message: object) -> bytes: ...
        def _note_group_send(self, group: str, result: Any) -> None: ...
        def flush(self) -> None: ...

    # -- asyncio API -------------------------------------------------------------------------

    def _loop_clients(self) -> LoopClients:
        loop = asyncio.get_running_loop()
        clients = self._loops.get(loop)
        if clients is None:
            topo = self._topology()
            with self._loops_lock:
                clients = self._loops.get(loop)
                if clients is None:
                    name = f"{self._pop_name}.{next(self._loop_numbers)}"
                    clients = LoopClients(
                        [AsyncShard(endpoint, self.connection_kwargs, self.receive_timeout,
                                    name)
                         for endpoint in topo.endpoints],
                        set(),
                    )
                    self._loops[loop] = clients
        return clients

    async def send_async(
        self, channel: str, message: dict[str, Any], *, attempts: int = 0
    ) -> None:
        """Coroutine form of :meth:`send` (same wire format)."""
        plan = self._plan_send(channel, message, attempts)
        error = await self._send_to_async(plan, plan.targets)
        if error is not None:
            raise error

    async def _send_to_async(
        self,
        plan: SendPlan,
        targets: list[tuple[int, int]],
        full: bool = False,
        unavailable: LayerUnavailable | None = None,
    ) -> BaseException | None:
        """Coroutine form of :meth:`_send_to`."""
        shards = self._loop_clients().shards
        for position, (shard, capacity) in enumerate(targets):
            last = position == len(targets) - 1
            try:
                if await shards[shard].evalsha(self._send_call(plan, capacity, last)) == 1:
                    return None
                full = True
            except LayerUnavailable as exc:
                unavailable = unavailable or exc
        return send_failure(self._full_error(plan.channel), full, unavailable)

    async def send_many_async(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Coroutine form of :meth:`send_many`: one pipelined round trip per shard, concurrently."""
        results: list[BaseException | None] = [None] * len(items)
        batches = self._batch_sends(items, results)
        shards = self._loop_clients().shards

        async def run(shard: int, batch: list[tuple[int, SendPlan]]) -> None:
            calls = [self._send_call(plan, plan.targets[0][1], len(plan.targets) == 1)
                     for _, plan in batch]
            try:
                outcomes: list[Any] = await shards[shard].evalsha_many(calls)
            except LayerUnavailable as exc:
                outcomes = [exc] * len(batch)
            for (index, plan), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, LayerUnavailable):
                    results[index] = await self._send_to_async(
                        plan, plan.targets[1:], unavailable=outcome
                    )
                elif isinstance(outcome, Exception):
                    results[index] = outcome
                elif outcome != 1:
                    results[index] = await self._send_to_async(plan, plan.targets[1:], full=True)

        if len(batches) == 1:
            # One shard (the usual case): no tasks and gathering future for a single call.
            ((shard, batch),) = batches.items()
            await run(shard, batch)
        else:
            await asyncio.gather(*(run(shard, batch) for shard, batch in batches.items()))
        return results

    async def fetch_async(self, channels: Iterable[str], max_messages: int = 1) -> list[Delivery]:
        """Wait (at most ``receive_timeout``) for up to ``max_messages`` messages.

        Each shard involved gets one ``BLMPOP ... COUNT max_messages`` running as its own
        task; cancelling this coroutine never cancels those pops, whose entries stay in the
        process buffer for the next receive.
        """
        names = validate_receive_channels(channels)
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) or (
            max_messages < 1
        ):
            raise ValueError(f"max_messages must be a positive int, not {max_messages!r}")
        by_shard = self._keys_by_shard(names)
        loop = asyncio.get_running_loop()
        window_end = time.monotonic() + self.receive_timeout
        while True:
            entries = await self._pop_blocking_async(loop, by_shard, max_messages, window_end)
            deliveries = self._deliver(entries)
            if deliveries or self._closed or time.monotonic() >= window_end:
                return deliveries

    async def _pop_blocking_async(
        self,
        loop: asyncio.AbstractEventLoop,
        by_shard: dict[int, list[str]],
        wanted: int,
        window_end: float,
    ) -> list[tuple[str, bytes]]:
        if len(by_shard) == 1:
            taken = await self._pop_one_shard_async(loop, by_shard, wanted, window_end)
            if taken:
                return taken
        return await self._pop_waiting_async(loop, by_shard, wanted, window_end)

    async def _pop_one_shard_async(
        self,
        loop: asyncio.AbstractEventLoop,
        by_shard: dict[int, list[str]],
        wanted: int,
        window_end: float,
    ) -> list[tuple[str, bytes]]:
        """The common case (one shard, no pop running, shard healthy), without a waiter.

        Waits on the pop task itself (shielded: cancelling the receive leaves the pop
        running, and its entries land in the buffer as usual), which saves the waiter's
        future, its thread-safe wakeup and a timer per receive.  Returns [] to hand over to
        :meth:`_pop_waiting_async` for everything else (pops already running, failures,
        time left after expired entries).
        """
        state = self._pops
        ((shard, keys),) = by_shard.items()
        keyset = frozenset(keys)
        now = time.monotonic()
        with state.lock:
            taken = state.take(keys, wanted)
            if taken or now >= window_end:
                return taken
            if state.inflight(loop, keyset, [shard]) or state.failing(shard):
                return []
            state.begin_wait(loop, keyset)
            state.pops_to_start(loop, keyset, [shard], now, probe=False)
        try:
            clients = self._loop_clients()
            task = loop.create_task(
                self._pop_task_async(
                    loop, clients.shards[shard], shard, keys, keyset, wanted,
                    max(MIN_BLOCK, round(window_end - now, 3)),
                )
            )
            clients.tasks.add(task)
            task.add_done_callback(clients.tasks.discard)
            await asyncio.shield(task)
        finally:
            with state.lock:
                state.end_wait(loop, keyset)
        with state.lock:
            return state.take(keys, wanted)

    async def _pop_waiting_async(
        self,
        loop: asyncio.AbstractEventLoop,
        by_shard: dict[int, list[str]],
        wanted: int,
        window_end: float,
    ) -> list[tuple[str, bytes]]:
        """Wait on every shard at once; see :mod:`.receiving`."""
        state = self._pops
        clients = self._loop_clients()
        all_keys = [key for keys in by_shard.values() for key in keys]
        keyset = frozenset(all_keys)
        shards = list(by_shard)
        hard_end = window_end + POP_GRACE
        waiter = AsyncWaiter(loop)
        with state.lock:
            state.add_waiter(waiter)
            state.begin_wait(loop, keyset)
        probe = True
        try:
            while True:
                with state.lock:
                    waiter.rearm()
                    taken = state.take(all_keys, wanted)
                    if taken:
                        return taken
                    now = time.monotonic()
                    inflight = state.inflight(loop, keyset, shards)
                    if now >= hard_end or (now >= window_end and not inflight):
                        if state.all_failing(shards):
                            raise shard_failure(state.error_for(shards))
                        return []
                    starts: list[int] = []
                    if now < window_end:
                        starts = state.pops_to_start(
                            loop, keyset, shards, now, probe and state.all_down(shards, now)
                        )
                        if not starts and not inflight and state.all_failing(shards):
                            raise shard_failure(state.error_for(shards))
                    wake_at = min(hard_end, state.next_retry(shards, now) or hard_end)
                    future = waiter.future
                probe = False
                block = max(MIN_BLOCK, round(window_end - now, 3))
                for shard in starts:
                    task = loop.create_task(
                        self._pop_task_async(
                            loop, clients.shards[shard], shard, by_shard[shard], keyset,
                            wanted, block,
                        )
                    )
                    clients.tasks.add(task)
                    task.add_done_callback(clients.tasks.discard)
                # Waiting on the waiter's future only: cancelling this receive leaves the pop
                # tasks running, and their entries land in the buffer.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(future), max(0.0, wake_at - time.monotonic())
                    )
        finally:
            with state.lock:
                state.remove_waiter(waiter)
                state.end_wait(loop, keyset)

    async def _pop_task_async(
        self,
        loop: asyncio.AbstractEventLoop,
        client: AsyncShard,
        shard: int,
        keys: list[str],
        keyset: frozenset[str],
        wanted: int,
        block: float,
    ) -> None:
        keys = list(keys)
        random.shuffle(keys)
        entries: list[tuple[str, bytes]] = []
        error: BaseException | None = None
        try:
            entries = self._entries_from_blmpop(await client.blmpop(keys, block, wanted))
        except asyncio.CancelledError as exc:
            # Only close_async() or the loop shutting down cancels a pop.
            error = exc
        except Exception as exc:
            error = exc
            self._log_shard_error(shard, exc)
        # No await between the pop's reply and handing its entries to the buffer.
        if self._pops.pop_finished(loop, shard, keyset, entries, error, time.monotonic()):
            self._log_shard_recovered(shard)

    async def group_add_async(self, group: str, channel: str) -> None:
        """Coroutine form of :meth:`group_add`."""
        validate_group_name(group)
        validate_channel_name(channel)
        shard = self.shard_for(channel)
        await self._loop_clients().shards[shard].evalsha(
            self._group_add_call(group, channel, shard)
        )

    async def group_discard_async(self, group: str, channel: str) -> None:
        """Coroutine form of :meth:`group_discard`."""
        validate_group_name(group)
        validate_channel_name(channel)
        shard = self.shard_for(channel)
        await self._loop_clients().shards[shard].evalsha(
            self._group_discard_call(group, channel)
        )

    async def send_group_async(self, group: str, message: dict[str, Any]) -> None:
        """Coroutine form of :meth:`send_group`; the shards are sent to concurrently."""
        validate_group_name(group)
        body = self._encode(f"group {group}", message)
        call = self._group_send_call(group, body)
        outcomes = await asyncio.gather(
            *(shard.evalsha(call) for shard in self._loop_clients().shards),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if not isinstance(outcome, BaseException):
                self._note_group_send(group, outcome)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def flush_async(self) -> None:
        """Coroutine form of :meth:`flush` (runs the SCAN loop on a thread)."""
        await asyncio.get_running_loop().run_in_executor(None, self.flush)

    async def identity_async(self) -> str:
        """Coroutine form of :meth:`identity`."""
        infos = await asyncio.gather(
            *(shard.server_info() for shard in self._loop_clients().shards)
        )
        return ",".join(str(info.get("run_id", "")) for info in infos)

    async def close_async(self) -> None:
        """Close the running loop's clients.

        Pops still in flight are unblocked (``CLIENT UNBLOCK``) and waited for, so what they
        took out of Redis lands in the buffer instead of being lost; the layer stays usable
        from other loops and from the sync API.
        """
        loop = asyncio.get_running_loop()
        with self._loops_lock:
            clients = self._loops.pop(loop, None)
        if clients is None:
            return
        tasks = list(clients.tasks)
        if tasks:
            for shard in clients.shards:
                await shard.unblock_pops()
            _, pending = await asyncio.wait(
                tasks, timeout=self.receive_timeout + POP_GRACE + 1.0
            )
            for task in pending:  # only a pop stuck on a dead connection gets here
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for shard in clients.shards:
            await shard.close()
