"""``RedisChannelLayer``: the ASGI 1.0 channel layer on one or more Redis >= 7 servers.

See the package docstring for the key layout and the round trips of each operation.  Every
operation is planned once by the pure :class:`~.planning.PlanningMixin` (keys, script
arguments, target shards); this module runs the plans on the sync clients (thread-safe: the
worker shares one layer between its threads) and :mod:`.aio` on the asyncio clients.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..base import (
    DEFAULT_CAPACITY,
    DEFAULT_EXPIRY,
    DEFAULT_GROUP_EXPIRY,
    BaseChannelLayer,
    CapacitySpec,
    Delivery,
    LayerUnavailable,
)
from ..validation import (
    non_local_name,
    random_token,
    validate_channel_name,
    validate_group_name,
    validate_receive_channels,
)
from .aio import AsyncMixin, LoopClients
from .config import parse_hosts, validate_prefix
from .hashing import RendezvousRing
from .planning import (
    DropLog,
    PlanningMixin,
    SendPlan,
    Topology,
    glob_escape,
    send_failure,
    shard_failure,
)
from .receiving import MIN_BLOCK, POP_GRACE, PopState, ThreadWaiter
from .serializers import MessageCodec
from .transport import Endpoint, SyncShard, UrlEndpoint

__all__ = ["RedisChannelLayer"]

logger = logging.getLogger("channels_classic.layers.redis")


class RedisChannelLayer(PlanningMixin, AsyncMixin, BaseChannelLayer):
    """Channel layer on Redis >= 7.0; see the package docstring.

    Args:
        expiry: seconds an unread message lives.
        hosts: list of ``(host, port)`` tuples and/or ``redis://``, ``rediss://``,
            ``unix://`` URLs; several hosts are shards.  Default ``[("localhost", 6379)]``.
        prefix: prefix of every message and group key (several layers may share a server
            with different prefixes).
        group_expiry: seconds a group membership lives after its last ``group_add``.
        capacity: default channel capacity (live messages).
        channel_capacity: ``{glob-or-compiled-regex: capacity}``, first match wins.
        symmetric_encryption_keys: list of secrets for Fernet encryption of message bodies;
            the first encrypts, all decrypt.  Needs the ``crypto`` extra.
        stats_prefix: prefix of the statistics hashes.
        connection_kwargs: extra redis-py client keyword arguments (timeouts, TLS files...).
        process_channel_capacity: capacity shared by all channels of one ``prefix!``.
        max_message_size: largest packed message body accepted, in bytes.
        receive_timeout: longest wait of one blocking receive, in seconds.
        clock: wall-clock source (seconds); deadlines are compared across processes, so it
            must be ``time.time``-like.  Tests inject a fake one.
        statistics: count messages in Redis for ``global_statistics`` and
            ``channel_statistics`` (inside the send scripts: no extra round trip).
    """

    extensions = ["groups", "flush", "statistics", "asyncio", "async"]

    #: Lifetimes of the statistics hashes (asgi_redis's values).
    channel_statistics_expiry = 3600
    global_statistics_expiry = 86400
    global_stats_key = "#global#"

    def __init__(
        self,
        expiry: float = DEFAULT_EXPIRY,
        hosts: Any = None,
        prefix: str = "asgi:",
        group_expiry: float = DEFAULT_GROUP_EXPIRY,
        capacity: int = DEFAULT_CAPACITY,
        channel_capacity: CapacitySpec = None,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        stats_prefix: str = "asgi-meta:",
        connection_kwargs: dict[str, Any] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        statistics: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            expiry=expiry,
            group_expiry=group_expiry,
            capacity=capacity,
            channel_capacity=channel_capacity,
            **kwargs,
        )
        self.prefix = validate_prefix("prefix", prefix)
        self.stats_prefix = validate_prefix("stats_prefix", stats_prefix)
        if self.prefix.startswith(self.stats_prefix) or self.stats_prefix.startswith(self.prefix):
            raise ValueError(
                f"prefix {prefix!r} and stats_prefix {stats_prefix!r} must not be prefixes of "
                "each other, or message and statistics keys could collide"
            )
        if connection_kwargs is not None and not isinstance(connection_kwargs, dict):
            raise TypeError("connection_kwargs must be a dict of redis-py client arguments")
        # Copied so later changes to the caller's dict (e.g. settings) cannot leak in.
        self.connection_kwargs: dict[str, Any] = dict(connection_kwargs or {})
        self._hosts_setting = hosts
        self._codec = MessageCodec(symmetric_encryption_keys)
        self._clock = clock
        self.statistics = bool(statistics)
        self._expiry_ms = round(self.expiry * 1000)
        # Lists outlive their newest message by a second, so Redis reclaims abandoned ones.
        self._list_ttl_ms = self._expiry_ms + 1000
        self._group_ttl = max(1, math.ceil(self.group_expiry))
        self._round_robin = itertools.count(random.randrange(1 << 16))
        self._topology_lock = threading.Lock()
        self._topo: Topology | None = None
        self._pops = PopState(self._now_ms)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients] = (
            weakref.WeakKeyDictionary()
        )
        self._loops_lock = threading.Lock()
        # Names the blocking connections (CLIENT SETNAME) so close() can unblock them.
        self._pop_name = f"channels_classic.pop.{random_token(10)}"
        self._loop_numbers = itertools.count()
        self._local_stats: Counter[str] = Counter()
        self._drops = DropLog()
        self._local_stats_lock = threading.Lock()
        self._closed = False
        #: Per thread: what ``fetch_ahead`` asked this thread's sends to pop.
        self._ahead = threading.local()
        self._init_endpoints()

    # -- topology --------------------------------------------------------------------------

    def _init_endpoints(self) -> None:
        """Resolve the shards now when that needs no I/O (plain host lists)."""
        specs = parse_hosts(self._hosts_setting)
        self.hosts = [spec.url for spec in specs]
        endpoints: list[Endpoint] = [
            UrlEndpoint(spec.url, spec.label, spec.options) for spec in specs
        ]
        self._topo = self._make_topology(endpoints)

    def _discover_endpoints(self) -> list[Endpoint]:
        """Subclasses whose shards need I/O to find (Sentinel) build them here, lazily."""
        raise NotImplementedError

    def _make_topology(self, endpoints: list[Endpoint]) -> Topology:
        ring = RendezvousRing([endpoint.hash_id for endpoint in endpoints])
        shards = [
            SyncShard(endpoint, self.connection_kwargs, self.receive_timeout,
                      f"{self._pop_name}.sync")
            for endpoint in endpoints
        ]
        return Topology(endpoints, ring, shards)

    def _topology(self) -> Topology:
        topo = self._topo
        if topo is None:
            with self._topology_lock:
                if self._topo is None:
                    self._topo = self._make_topology(self._discover_endpoints())
                topo = self._topo
        return topo

    @property
    def shard_labels(self) -> list[str]:
        """The shards' addresses (without credentials), in ring order."""
        return [endpoint.label for endpoint in self._topology().endpoints]

    def shard_for(self, name: str) -> int:
        """Index of the shard owning a ``!``/``?`` channel or a group member ``name``."""
        return self._topology().ring.index(non_local_name(name))

    # -- core API (sync) ---------------------------------------------------------------------

    def send(self, channel: str, message: dict[str, Any], *, attempts: int = 0) -> None:
        """Queue ``message`` on ``channel``: one ``EVALSHA`` (more only when a share is full).

        Raises:
            ChannelFull: the channel holds ``capacity`` live messages.
            MessageTooLarge: the packed message is over ``max_message_size``.
            TypeError / ValueError: invalid channel name or message contents.
            LayerUnavailable: Redis cannot be reached.
        """
        plan = self._plan_send(channel, message, attempts)
        error = self._send_to(plan, plan.targets)
        if error is not None:
            raise error

    def _send_to(
        self,
        plan: SendPlan,
        targets: list[tuple[int, int]],
        full: bool = False,
        unavailable: LayerUnavailable | None = None,
    ) -> BaseException | None:
        """Offer the message to ``targets`` in turn; None once one took it, else the error.

        A normal channel on several shards moves on to the next share when one is full or
        unreachable; it is full only when every reachable share is.
        """
        shards = self._topology().shards
        for position, (shard, capacity) in enumerate(targets):
            last = position == len(targets) - 1
            try:
                if shards[shard].evalsha(self._send_call(plan, capacity, last)) == 1:
                    return None
                full = True
            except LayerUnavailable as exc:
                unavailable = unavailable or exc
        return send_failure(self._full_error(plan.channel), full, unavailable)

    def send_many(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Send several messages with one pipelined round trip per shard.

        Returns one entry per item: None when queued, else the exception that stopped it.
        """
        results: list[BaseException | None] = [None] * len(items)
        batches = self._batch_sends(items, results)
        shards = self._topology().shards
        ahead = self._ahead_keys()
        for shard, batch in batches.items():
            calls = [self._send_call(plan, plan.targets[0][1], len(plan.targets) == 1)
                     for _, plan in batch]
            keys = ahead.get(shard) if ahead else None
            try:
                outcomes: list[Any]
                outcomes, popped = shards[shard].evalsha_many_then(
                    calls, self._lmpop_args(keys) if keys else None)
            except LayerUnavailable as exc:
                outcomes = [exc] * len(batch)
            else:
                if keys:
                    ahead = None  # one message ahead per call at most
                    self._keep_ahead(shard, popped)
            for (index, plan), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, LayerUnavailable):
                    results[index] = self._send_to(plan, plan.targets[1:], unavailable=outcome)
                elif isinstance(outcome, Exception):
                    results[index] = outcome
                elif outcome != 1:
                    results[index] = self._send_to(plan, plan.targets[1:], full=True)
        return results

    def _batch_sends(
        self,
        items: Sequence[tuple[str, dict[str, Any]]],
        results: list[BaseException | None],
    ) -> dict[int, list[tuple[int, SendPlan]]]:
        batches: dict[int, list[tuple[int, SendPlan]]] = {}
        for index, (channel, message) in enumerate(items):
            try:
                plan = self._plan_send(channel, message, 0)
            except Exception as exc:
                results[index] = exc
                continue
            batches.setdefault(plan.targets[0][0], []).append((index, plan))
        return batches

    def fetch(
        self, channels: Iterable[str], block: bool = False, max_messages: int = 1
    ) -> list[Delivery]:
        """Receive up to ``max_messages``; see :meth:`BaseChannelLayer.fetch`.

        Non-blocking: one Lua pop per shard until enough.  Blocking: one ``BLMPOP`` (with
        ``COUNT max_messages``) on each shard involved, all at once, bounded by
        ``receive_timeout``.
        """
        names = validate_receive_channels(channels)
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) or (
            max_messages < 1
        ):
            raise ValueError(f"max_messages must be a positive int, not {max_messages!r}")
        by_shard = self._keys_by_shard(names)
        if not block:
            deliveries: list[Delivery] = []
            # Dropped entries (undecodable) leave room: pop again until the lists run dry.
            while len(deliveries) < max_messages:
                entries = self._pop_now(by_shard, max_messages - len(deliveries))
                if not entries:
                    break
                deliveries.extend(self._deliver(entries))
            return deliveries
        window_end = time.monotonic() + self.receive_timeout
        while True:
            if len(by_shard) == 1:
                entries = self._pop_blocking_one(by_shard, max_messages, window_end)
            else:
                entries = self._pop_blocking_many(by_shard, max_messages, window_end)
            received = self._deliver(entries)
            # Everything popped may have expired or been undecodable: wait on, within the
            # same window (unless close() ended the wait).
            if received or self._closed or time.monotonic() >= window_end:
                return received

    def _pop_now(self, by_shard: dict[int, list[str]], wanted: int) -> list[tuple[str, bytes]]:
        all_keys = [key for keys in by_shard.values() for key in keys]
        entries = self._pops.take_now(all_keys, wanted)
        shards = self._topology().shards
        order = list(by_shard)
        random.shuffle(order)
        failures: list[LayerUnavailable] = []
        for shard in order:
            if len(entries) >= wanted:
                break
            keys = list(by_shard[shard])
            random.shuffle(keys)  # fairness: a busy channel must not starve a quiet one
            try:
                result = shards[shard].evalsha(self._pop_call(keys, wanted - len(entries)))
            except LayerUnavailable as exc:
                failures.append(exc)
                continue
            entries.extend(self._entries_from_pop(keys, result))
        if failures and len(failures) == len(order) and not entries:
            raise failures[0]
        for failure in failures:
            logger.warning("Receive skipped a shard: %s", failure)
        return entries

    def _pop_blocking_one(
        self, by_shard: dict[int, list[str]], wanted: int, window_end: float
    ) -> list[tuple[str, bytes]]:
        ((shard, keys),) = by_shard.items()
        buffered = self._pops.take_now(keys, wanted)
        if buffered:
            return buffered
        remaining = window_end - time.monotonic()
        if remaining < MIN_BLOCK or self._closed:
            return []
        keys = list(keys)
        random.shuffle(keys)
        result = self._topology().shards[shard].blmpop(keys, round(remaining, 3), wanted)
        return self._entries_from_blmpop(result)

    def _pop_blocking_many(
        self, by_shard: dict[int, list[str]], wanted: int, window_end: float
    ) -> list[tuple[str, bytes]]:
        """Wait on every shard at once; see :mod:`.receiving`."""
        state = self._pops
        kind = "sync"
        all_keys = [key for keys in by_shard.values() for key in keys]
        keyset = frozenset(all_keys)
        shards = list(by_shard)
        hard_end = window_end + POP_GRACE
        waiter = ThreadWaiter()
        with state.lock:
            state.add_waiter(waiter)
            state.begin_wait(kind, keyset)
        probe = True
        try:
            while True:
                with state.lock:
                    waiter.event.clear()
                    taken = state.take(all_keys, wanted)
                    if taken or self._closed:
                        return taken
                    now = time.monotonic()
                    inflight = state.inflight(kind, keyset, shards)
                    if now >= hard_end or (now >= window_end and not inflight):
                        if state.all_failing(shards):
                            raise shard_failure(state.error_for(shards))
                        return []
                    starts: list[int] = []
                    if now < window_end:
                        starts = state.pops_to_start(
                            kind, keyset, shards, now, probe and state.all_down(shards, now)
                        )
                        if not starts and not inflight and state.all_failing(shards):
                            raise shard_failure(state.error_for(shards))
                    wake_at = min(hard_end, state.next_retry(shards, now) or hard_end)
                probe = False
                block = max(MIN_BLOCK, round(window_end - now, 3))
                for shard in starts:
                    self._pop_executor().submit(
                        self._pop_task, kind, shard, by_shard[shard], keyset, wanted, block
                    )
                waiter.event.wait(max(0.0, wake_at - time.monotonic()))
        finally:
            with state.lock:
                state.remove_waiter(waiter)
                state.end_wait(kind, keyset)

    def _pop_executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                if self._executor is None:
                    workers = min(128, 16 * len(self._topology().shards))
                    self._executor = ThreadPoolExecutor(
                        max_workers=workers, thread_name_prefix="redis-layer-pop"
                    )
                executor = self._executor
        return executor

    def _pop_task(
        self, kind: str, shard: int, keys: list[str], keyset: frozenset[str], wanted: int,
        block: float,
    ) -> None:
        """One BLMPOP on a pool thread; whatever it pops goes to the shared buffer."""
        keys = list(keys)
        random.shuffle(keys)
        entries: list[tuple[str, bytes]] = []
        error: BaseException | None = None
        try:
            entries = self._entries_from_blmpop(
                self._topology().shards[shard].blmpop(keys, block, wanted)
            )
        except BaseException as exc:  # reported to the waiting receivers, never lost
            error = exc
            self._log_shard_error(shard, exc)
        if self._pops.pop_finished(kind, shard, keyset, entries, error, time.monotonic()):
            self._log_shard_recovered(shard)

    def _log_shard_error(self, shard: int, exc: BaseException) -> None:
        if self._closed:
            return
        with self._pops.lock:
            already_down = self._pops.is_down(shard, time.monotonic())
        if not already_down:
            logger.warning("Blocking receive on %s failed: %s",
                           self._topology().endpoints[shard].label, exc)

    def _log_shard_recovered(self, shard: int) -> None:
        # The pair of the warning above: a receive that retried past a short outage never
        # raises, so without this line an operator would see the failure and no recovery.
        if not self._closed:
            logger.warning("Redis at %s is reachable again; blocking receives resume",
                           self._topology().endpoints[shard].label)

    # -- receiving ahead (sync) -------------------------------------------------------------

    def fetch_ahead(
        self, channels: Iterable[str] | None, active: Callable[[], bool] | None = None
    ) -> None:
        """Let this thread's sends carry its next receive from ``channels`` (None: stop).

        A worker's loop is *receive, run the consumer, send its replies, receive again*: two
        round trips per message.  With this set, ``send_many`` and ``send_group`` from this
        thread append one ``LMPOP ... COUNT 1`` on ``channels`` to the round trip they make
        anyway, and what it pops waits in the process buffer, where the next ``fetch`` finds
        it without asking Redis: one round trip per message while messages are queued.

        Only one message is ever held this way (nothing is popped ahead while anything is
        buffered), and Redis hands a pushed message to a client blocked in ``BLMPOP``
        before any ``LMPOP`` sees it, so a message is taken ahead only when no other receiver
        was waiting for it.  ``active`` is asked before each pop ahead (a worker that is
        stopping should not take more).  ``fetch_ahead(None)`` gives what was taken ahead
        and not received back to the head of its list, as ``close()`` does.
        """
        if channels is None:
            if getattr(self._ahead, "keys", None) is not None:
                self._ahead.keys = None
                self._requeue_buffered()
            return
        self._ahead.keys = self._keys_by_shard(validate_receive_channels(channels))
        self._ahead.active = active

    def _ahead_keys(self) -> dict[int, list[str]] | None:
        """This thread's ``fetch_ahead`` keys by shard, when a pop ahead is wanted now."""
        keys: dict[int, list[str]] | None = getattr(self._ahead, "keys", None)
        if keys is None or self._closed or self._pops.has_buffered():
            return None
        active = self._ahead.active
        if active is not None and not active():
            return None
        return keys

    @staticmethod
    def _lmpop_args(keys: list[str]) -> tuple[Any, ...]:
        keys = list(keys)
        random.shuffle(keys)  # LMPOP takes from the first non-empty list: no favourite
        return ("LMPOP", len(keys), *keys, "LEFT", "COUNT", 1)

    def _keep_ahead(self, shard: int, reply: Any) -> None:
        """Buffer what a pop ahead returned (an error reply only costs the pop)."""
        if isinstance(reply, Exception):
            logger.debug("Receiving ahead failed: %s", reply)
            return
        self._pops.add_entries(shard, self._entries_from_blmpop(reply))

    # -- groups (sync) -------------------------------------------------------------------------

    def group_add(self, group: str, channel: str) -> None:
        """Add ``channel`` to ``group`` (idempotent; refreshes its expiry): one ``EVALSHA``."""
        validate_group_name(group)
        validate_channel_name(channel)
        shard = self.shard_for(channel)
        self._topology().shards[shard].evalsha(self._group_add_call(group, channel, shard))

    def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; no error when absent."""
        validate_group_name(group)
        validate_channel_name(channel)
        shard = self.shard_for(channel)
        self._topology().shards[shard].evalsha(self._group_discard_call(group, channel))

    def group_channels(self, group: str) -> list[str]:
        """Members of ``group`` whose membership has not expired, over all shards."""
        validate_group_name(group)
        cutoff = self._clock() - self.group_expiry
        members: list[str] = []
        for shard in self._topology().shards:
            members.extend(
                member.decode("ascii")
                for member in shard.zrange_live(self._group_key(group), cutoff)
            )
        return members

    def send_group(self, group: str, message: dict[str, Any]) -> None:
        """Send to every member: one ``EVALSHA`` per shard; full members are skipped, counted.

        Raises:
            MessageTooLarge / TypeError / ValueError: before anything is sent.
            LayerUnavailable: a shard could not be reached (the others were sent to).
        """
        validate_group_name(group)
        body = self._encode(f"group {group}", message)
        call = self._group_send_call(group, body)
        failure: LayerUnavailable | None = None
        ahead = self._ahead_keys()
        for index, shard in enumerate(self._topology().shards):
            keys = ahead.get(index) if ahead else None
            try:
                if keys:
                    (result,), popped = shard.evalsha_many_then([call], self._lmpop_args(keys))
                    if isinstance(result, Exception):
                        raise result
                    ahead = None
                    self._keep_ahead(index, popped)
                else:
                    result = shard.evalsha(call)
                self._note_group_send(group, result)
            except LayerUnavailable as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    # -- flush, statistics, identity (sync) ---------------------------------------------------

    def flush(self) -> None:
        """Delete every key under ``prefix`` and ``stats_prefix`` on every shard (SCAN+UNLINK)."""
        for shard in self._topology().shards:
            shard.scan_unlink(glob_escape(self.prefix) + "*")
            shard.scan_unlink(glob_escape(self.stats_prefix) + "*")
        self._pops.clear()
        with self._local_stats_lock:
            self._local_stats.clear()

    def global_statistics(self) -> dict[str, float]:
        """Totals over all shards, plus what this process dropped on receive.

        ``messages_pending`` counts the entries of every list under ``prefix`` (found with
        SCAN), so call it for monitoring, not on a hot path.
        """
        totals: Counter[str] = Counter()
        for shard in self._topology().shards:
            (stats,) = shard.hgetall_many([self._global_stats_key()])
            for field, value in stats.items():
                totals[field.decode("ascii")] += int(value)
            totals["messages_pending"] += shard.scan_lengths(glob_escape(self.prefix) + "*")
        totals["messages_pending"] += self._pops.buffered_count()
        totals["messages_expired"] += self._pops.expired_dropped
        with self._local_stats_lock:
            totals.update(self._local_stats)
        return self._stats_dict(totals, global_=True)

    def channel_statistics(self, channel: str) -> dict[str, float]:
        """Counters, pending count and age (s) of the oldest pending message of ``channel``.

        A process-local channel is reported for its whole ``prefix!`` queue.
        """
        validate_channel_name(non_local_name(channel), receive=True)
        shards = self._topology().shards
        return self._channel_stats_from(
            shards[index].evalsha(self._peek_call(channel))
            for index in self._peek_shards(channel)
        )

    def identity(self) -> str:
        """The shards' ``run_id``s: changes when any server restarted (its data is gone)."""
        return ",".join(
            str(shard.server_info().get("run_id", "")) for shard in self._topology().shards
        )

    def close(self) -> None:
        """Disconnect the sync clients and stop the pop threads.

        Call :meth:`close_async` on an event loop first to close that loop's clients.
        Entries that pops took out of Redis but no receive has returned yet (a multi-shard
        receive buffers what other shards answer) are pushed back to the head of their
        lists, so closing a layer loses no message.
        """
        self._closed = True
        if self._topo is not None:
            # Threads blocked in BLMPOP (pool threads, or worker threads still receiving)
            # return at once, empty-handed, instead of failing on a closed connection.
            for shard in self._topo.shards:
                shard.unblock_pops()
        executor, self._executor = self._executor, None
        if executor is not None:
            # Unblocked pops return at once (at worst after one block period when the
            # server refuses CLIENT UNBLOCK); waiting lets their entries reach the buffer.
            executor.shutdown(wait=True, cancel_futures=True)
        if self._topo is not None:
            self._requeue_buffered()
            for shard in self._topo.shards:
                shard.close()

    def _requeue_buffered(self) -> None:
        """Give every buffered entry back to the shard it was popped from."""
        shards = self._topology().shards
        for shard, key, entries in self._pops.drain():
            try:
                shards[shard].requeue(key, entries, self._list_ttl_ms)
            except Exception as exc:  # the shard is gone: nothing else can be done
                logger.warning(
                    "Could not return %d received message(s) to %s on close: %s",
                    len(entries), shards[shard].label, exc,
                )

    def __repr__(self) -> str:
        topo = self._topo
        labels = ", ".join(endpoint.label for endpoint in topo.endpoints) if topo else "?"
        return f"<{type(self).__name__} hosts=[{labels}] prefix={self.prefix!r}>"
