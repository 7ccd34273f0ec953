"""``RedisChannelLayer``: the ASGI 1.0 channel layer on one or more Redis >= 7 servers.

See the package docstring for the key layout and the round trips of each operation.  This
module plans every operation once (keys, script arguments, target shards) with pure helpers
and runs the plan with either the sync clients (thread-safe; the worker shares one layer
between its threads) or the asyncio clients (bound lazily to the running event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from dataclasses import dataclass
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
from .config import parse_hosts, validate_prefix
from .hashing import RendezvousRing
from .receiving import AsyncWaiter, PopState, ThreadWaiter
from .scripts import GROUP_ADD, GROUP_DISCARD, GROUP_SEND, PEEK, POP, SEND
from .serializers import (
    MessageCodec,
    UndecodableMessage,
    envelope_head,
    pack_envelope,
    unpack_envelope,
)
from .transport import AsyncShard, Endpoint, ScriptCall, SyncShard, UrlEndpoint

__all__ = ["RedisChannelLayer"]

logger = logging.getLogger("channels_classic.layers.redis")

#: Seconds a multi-shard receive waits, after its own window, for pops it already started.
_POP_GRACE = 0.25
#: Shortest BLMPOP timeout worth sending (0 would mean "block forever").
_MIN_BLOCK = 0.005


def _deadline_of(entry: bytes) -> int:
    """The deadline (ms) at the start of an envelope; 0 (expired) when unreadable."""
    end = entry.find(b"|")
    try:
        return int(entry[:end]) if end > 0 else 0
    except ValueError:
        return 0


def _shard_failure(error: BaseException | None) -> BaseException:
    """The exception a receive raises when every shard it needs is failing."""
    if error is None or isinstance(error, LayerUnavailable):
        # A fresh instance: the recorded one may be raised in several threads at once.
        return LayerUnavailable(str(error) if error else "No Redis shard answers")
    return error


def _send_failure(
    full_error: BaseException, full: bool, unavailable: LayerUnavailable | None
) -> BaseException:
    """ChannelFull when any reachable share was full (back-pressure), else the outage."""
    if full or unavailable is None:
        return full_error
    return LayerUnavailable(str(unavailable))


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a prefix matches only itself."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


@dataclass
class _Topology:
    """The shards of a layer, in hash-ring order."""

    endpoints: list[Endpoint]
    ring: RendezvousRing
    shards: list[SyncShard]


@dataclass
class _LoopClients:
    """The asyncio clients and pop tasks of one event loop."""

    shards: list[AsyncShard]
    tasks: set[asyncio.Task[None]]


@dataclass
class _SendPlan:
    """Where one message goes: (shard, capacity share) in the order to try."""

    channel: str
    envelope: bytes
    targets: list[tuple[int, int]]


class RedisChannelLayer(BaseChannelLayer):
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
        self._topo: _Topology | None = None
        self._pops = PopState()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
            weakref.WeakKeyDictionary()
        )
        self._loops_lock = threading.Lock()
        # Names the blocking connections (CLIENT SETNAME) so close() can unblock them.
        self._pop_name = f"channels_classic.pop.{random_token(10)}"
        self._loop_numbers = itertools.count()
        self._local_stats: Counter[str] = Counter()
        self._local_stats_lock = threading.Lock()
        self._closed = False
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

    def _make_topology(self, endpoints: list[Endpoint]) -> _Topology:
        ring = RendezvousRing([endpoint.hash_id for endpoint in endpoints])
        shards = [
            SyncShard(endpoint, self.connection_kwargs, self.receive_timeout,
                      f"{self._pop_name}.sync")
            for endpoint in endpoints
        ]
        return _Topology(endpoints, ring, shards)

    def _topology(self) -> _Topology:
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

    # -- keys ------------------------------------------------------------------------------

    def _list_key(self, channel: str) -> str:
        return self.prefix + non_local_name(channel)

    def _group_key(self, group: str) -> str:
        return f"{self.prefix}group:{group}"

    def _group_capacity_key(self, group: str) -> str:
        return f"{self.prefix}groupcap:{group}"

    def _channel_stats_key(self, channel: str) -> str:
        return self.stats_prefix + non_local_name(channel)

    def _global_stats_key(self) -> str:
        return self.stats_prefix + self.global_stats_key

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- planning (pure) ---------------------------------------------------------------------

    @staticmethod
    def _share(capacity: int, shard: int, shards: int, home: int) -> int:
        """Part of a normal channel's capacity held on ``shard``; the parts sum to ``capacity``.

        The remainder goes to the channel's home shard first (where its group memberships
        live), so the home shard always holds at least one message.
        """
        return capacity // shards + (1 if (shard - home) % shards < capacity % shards else 0)

    def _send_targets(self, channel: str) -> list[tuple[int, int]]:
        topo = self._topology()
        capacity = self.get_capacity(channel)
        count = len(topo.shards)
        if count == 1:
            return [(0, capacity)]
        if "!" in channel or "?" in channel:
            return [(topo.ring.index(non_local_name(channel)), capacity)]
        # Normal channels are spread over the shards; each holds a share of the capacity and a
        # send only fails when every share is used up.
        home = topo.ring.index(channel)
        start = next(self._round_robin) % count
        targets = []
        for step in range(count):
            shard = (start + step) % count
            share = self._share(capacity, shard, count, home)
            if share:
                targets.append((shard, share))
        return targets

    def _encode(self, channel: str, message: object) -> bytes:
        packed = self._codec.serialize(message)
        self.check_size(len(packed), channel)
        return self._codec.seal(packed)

    def _plan_send(self, channel: str, message: object, attempts: int) -> _SendPlan:
        validate_channel_name(channel)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ValueError(f"attempts must be a non-negative int, not {attempts!r}")
        body = self._encode(channel, message)
        envelope = pack_envelope(self._now_ms() + self._expiry_ms, attempts, channel, body)
        return _SendPlan(channel, envelope, self._send_targets(channel))

    def _send_call(self, plan: _SendPlan, capacity: int, last: bool) -> ScriptCall:
        keys = [self._list_key(plan.channel)]
        if self.statistics:
            keys.append(self._global_stats_key())
            if "?" not in plan.channel:
                keys.append(self._channel_stats_key(plan.channel))
        args = [
            self._now_ms(),
            capacity,
            self._list_ttl_ms,
            plan.envelope,
            1 if last else 0,
            self.global_statistics_expiry,
            self.channel_statistics_expiry,
        ]
        return (SEND, keys, args)

    def _full_error(self, channel: str) -> Exception:
        return self.ChannelFull(
            f"Channel {channel!r} is at capacity ({self.get_capacity(channel)} messages)"
        )

    def _pop_call(self, keys: Sequence[str], wanted: int) -> ScriptCall:
        script_keys = list(keys)
        if self.statistics:
            script_keys.append(self._global_stats_key())
        return (POP, script_keys, [self._now_ms(), wanted, len(keys),
                                   self.global_statistics_expiry])

    def _keys_by_shard(self, names: Iterable[str]) -> dict[int, list[str]]:
        topo = self._topology()
        by_shard: dict[int, list[str]] = {}
        for name in dict.fromkeys(names):
            key = self.prefix + name
            if "!" in name or "?" in name:
                by_shard.setdefault(topo.ring.index(name), []).append(key)
            else:
                for shard in range(len(topo.shards)):
                    by_shard.setdefault(shard, []).append(key)
        return by_shard

    def _member_capacity(self, channel: str, shard: int) -> str:
        """Capacity stored with a group member, or '' when the group script's rule gives it."""
        capacity = self.get_capacity(channel)
        count = len(self._topology().shards)
        if count > 1 and "!" not in channel and "?" not in channel:
            capacity = self._share(capacity, shard, count, shard)
        rule = self.process_channel_capacity if "!" in channel else self.capacity
        return "" if capacity == rule else str(capacity)

    def _group_add_call(self, group: str, channel: str, shard: int) -> ScriptCall:
        return (
            GROUP_ADD,
            [self._group_key(group), self._group_capacity_key(group)],
            [repr(float(self._clock())), channel, self._member_capacity(channel, shard),
             self._group_ttl],
        )

    def _group_discard_call(self, group: str, channel: str) -> ScriptCall:
        return (GROUP_DISCARD, [self._group_key(group), self._group_capacity_key(group)],
                [channel])

    def _group_send_call(self, group: str, body: bytes) -> ScriptCall:
        now = self._clock()
        now_ms = int(now * 1000)
        keys = [self._group_key(group), self._group_capacity_key(group)]
        if self.statistics:
            keys.append(self._global_stats_key())
        args = [
            now_ms,
            repr(float(now - self.group_expiry)),
            envelope_head(now_ms + self._expiry_ms, 0),
            body,
            self.prefix,
            self._list_ttl_ms,
            self.capacity,
            self.process_channel_capacity,
            self.stats_prefix if self.statistics else "",
            self.channel_statistics_expiry,
            self.global_statistics_expiry,
        ]
        return (GROUP_SEND, keys, args)

    # -- delivery (pure) -----------------------------------------------------------------------

    def _count_local(self, name: str, amount: int = 1) -> None:
        if amount:
            with self._local_stats_lock:
                self._local_stats[name] += amount

    def _deliver(self, entries: Iterable[tuple[str, bytes]]) -> list[Delivery]:
        """Decode popped entries, dropping expired and undecodable ones (logged, counted)."""
        now_ms = self._now_ms()
        deliveries: list[Delivery] = []
        expired = 0
        for list_key, entry in entries:
            try:
                envelope = unpack_envelope(entry)
                if envelope.deadline_ms <= now_ms:
                    expired += 1
                    continue
                content = self._codec.decode(envelope.body)
            except UndecodableMessage as exc:
                self._count_local("messages_undecodable")
                logger.warning(
                    "Dropped a message from %s that cannot be decoded: %s",
                    list_key[len(self.prefix):], exc,
                )
                continue
            deliveries.append(Delivery(envelope.channel, content, envelope.attempts))
        self._count_local("messages_expired", expired)
        return deliveries

    @staticmethod
    def _entries_from_pop(keys: Sequence[str], result: Any) -> list[tuple[str, bytes]]:
        items = result or []
        return [(keys[int(items[i]) - 1], items[i + 1]) for i in range(0, len(items), 2)]

    @staticmethod
    def _entries_from_blmpop(result: Any) -> list[tuple[str, bytes]]:
        if not result:
            return []
        key, items = result
        name = key.decode("ascii") if isinstance(key, bytes) else str(key)
        return [(name, item) for item in items]

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
        plan: _SendPlan,
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
        return _send_failure(self._full_error(plan.channel), full, unavailable)

    def send_many(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Send several messages with one pipelined round trip per shard.

        Returns one entry per item: None when queued, else the exception that stopped it.
        """
        results: list[BaseException | None] = [None] * len(items)
        batches = self._batch_sends(items, results)
        shards = self._topology().shards
        for shard, batch in batches.items():
            calls = [self._send_call(plan, plan.targets[0][1], len(plan.targets) == 1)
                     for _, plan in batch]
            try:
                outcomes: list[Any] = shards[shard].evalsha_many(calls)
            except LayerUnavailable as exc:
                outcomes = [exc] * len(batch)
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
    ) -> dict[int, list[tuple[int, _SendPlan]]]:
        batches: dict[int, list[tuple[int, _SendPlan]]] = {}
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
            # same window.
            if received or time.monotonic() >= window_end:
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
        if remaining < _MIN_BLOCK:
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
        hard_end = window_end + _POP_GRACE
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
                    if taken:
                        return taken
                    now = time.monotonic()
                    inflight = state.inflight(kind, keyset, shards)
                    if now >= hard_end or (now >= window_end and not inflight):
                        if state.all_failing(shards):
                            raise _shard_failure(state.error_for(shards))
                        return []
                    starts: list[int] = []
                    if now < window_end:
                        starts = state.pops_to_start(
                            kind, keyset, shards, now, probe and state.all_down(shards, now)
                        )
                        if not starts and not inflight and state.all_failing(shards):
                            raise _shard_failure(state.error_for(shards))
                    wake_at = min(hard_end, state.next_retry(shards, now) or hard_end)
                probe = False
                block = max(_MIN_BLOCK, round(window_end - now, 3))
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
        self._pops.pop_finished(kind, shard, keyset, entries, error, time.monotonic())

    def _log_shard_error(self, shard: int, exc: BaseException) -> None:
        if self._closed:
            return
        with self._pops.lock:
            already_down = self._pops.is_down(shard, time.monotonic())
        if not already_down:
            logger.warning("Blocking receive on %s failed: %s",
                           self._topology().endpoints[shard].label, exc)

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
        for shard in self._topology().shards:
            try:
                shard.evalsha(call)
            except LayerUnavailable as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    # -- flush, statistics, identity (sync) ---------------------------------------------------

    def flush(self) -> None:
        """Delete every key under ``prefix`` and ``stats_prefix`` on every shard (SCAN+UNLINK)."""
        for shard in self._topology().shards:
            shard.scan_unlink(_glob_escape(self.prefix) + "*")
            shard.scan_unlink(_glob_escape(self.stats_prefix) + "*")
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
            totals["messages_pending"] += shard.scan_lengths(_glob_escape(self.prefix) + "*")
        totals["messages_pending"] += self._pops.buffered_count()
        with self._local_stats_lock:
            totals.update(self._local_stats)
        return self._stats_dict(totals, global_=True)

    def _stats_dict(self, totals: Counter[str], global_: bool) -> dict[str, float]:
        names = ["messages_count", "channel_full_count", "messages_pending"]
        if global_:
            names += ["messages_expired", "group_send_skipped", "messages_undecodable"]
        result: dict[str, float] = {name: totals.get(name, 0) for name in names}
        return result

    def _peek_call(self, channel: str) -> ScriptCall:
        keys = [self._list_key(channel), self._channel_stats_key(channel)]
        if self.statistics:
            keys.append(self._global_stats_key())
        return (PEEK, keys, [self._now_ms(), self.global_statistics_expiry])

    def _peek_shards(self, channel: str) -> list[int]:
        if "!" in channel or "?" in channel:
            return [self.shard_for(channel)]
        return list(range(len(self._topology().shards)))

    def _channel_stats_from(self, results: Iterable[Any]) -> dict[str, float]:
        totals: Counter[str] = Counter()
        now_ms = self._now_ms()
        age = 0.0
        for length, deadline, flat in results:
            totals["messages_pending"] += int(length)
            for i in range(0, len(flat), 2):
                totals[flat[i].decode("ascii")] += int(flat[i + 1])
            if deadline:
                age = max(age, (now_ms - (int(deadline) - self._expiry_ms)) / 1000)
        stats = self._stats_dict(totals, global_=False)
        stats["messages_max_age"] = age
        return stats

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

        Call :meth:`close_async` on an event loop first to close that loop's clients.  Stop
        receiving before closing: entries a multi-shard pop brings back after this are lost
        with the process buffer.
        """
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            if self._topo is not None:
                for shard in self._topo.shards:
                    shard.unblock_pops()
            executor.shutdown(wait=False, cancel_futures=True)
        if self._topo is not None:
            for shard in self._topo.shards:
                shard.close()

    # -- asyncio API -------------------------------------------------------------------------

    def _loop_clients(self) -> _LoopClients:
        loop = asyncio.get_running_loop()
        clients = self._loops.get(loop)
        if clients is None:
            topo = self._topology()
            with self._loops_lock:
                clients = self._loops.get(loop)
                if clients is None:
                    name = f"{self._pop_name}.{next(self._loop_numbers)}"
                    clients = _LoopClients(
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
        plan: _SendPlan,
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
        return _send_failure(self._full_error(plan.channel), full, unavailable)

    async def send_many_async(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Coroutine form of :meth:`send_many`: one pipelined round trip per shard, concurrently."""
        results: list[BaseException | None] = [None] * len(items)
        batches = self._batch_sends(items, results)
        shards = self._loop_clients().shards

        async def run(shard: int, batch: list[tuple[int, _SendPlan]]) -> None:
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
            if deliveries or time.monotonic() >= window_end:
                return deliveries

    async def _pop_blocking_async(
        self,
        loop: asyncio.AbstractEventLoop,
        by_shard: dict[int, list[str]],
        wanted: int,
        window_end: float,
    ) -> list[tuple[str, bytes]]:
        state = self._pops
        clients = self._loop_clients()
        all_keys = [key for keys in by_shard.values() for key in keys]
        keyset = frozenset(all_keys)
        shards = list(by_shard)
        hard_end = window_end + _POP_GRACE
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
                            raise _shard_failure(state.error_for(shards))
                        return []
                    starts: list[int] = []
                    if now < window_end:
                        starts = state.pops_to_start(
                            loop, keyset, shards, now, probe and state.all_down(shards, now)
                        )
                        if not starts and not inflight and state.all_failing(shards):
                            raise _shard_failure(state.error_for(shards))
                    wake_at = min(hard_end, state.next_retry(shards, now) or hard_end)
                    future = waiter.future
                probe = False
                block = max(_MIN_BLOCK, round(window_end - now, 3))
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
        self._pops.pop_finished(loop, shard, keyset, entries, error, time.monotonic())

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
                tasks, timeout=self.receive_timeout + _POP_GRACE + 1.0
            )
            for task in pending:  # only a pop stuck on a dead connection gets here
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for shard in clients.shards:
            await shard.close()

    def __repr__(self) -> str:
        topo = self._topo
        labels = ", ".join(endpoint.label for endpoint in topo.endpoints) if topo else "?"
        return f"<{type(self).__name__} hosts=[{labels}] prefix={self.prefix!r}>"
