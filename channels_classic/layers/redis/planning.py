"""Pure planning of Redis layer operations: keys, target shards, script calls, decoding.

Nothing here does I/O.  :class:`PlanningMixin` turns a layer operation into the keys and
arguments of one Lua script call per shard, and turns popped list entries back into
:class:`~..base.Delivery` objects; the sync half (:mod:`.core`) and the asyncio half
(:mod:`.aio`) of the layer only run those plans on their clients.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..base import Delivery, LayerUnavailable
from ..validation import non_local_name, validate_channel_name
from .hashing import RendezvousRing
from .scripts import GROUP_ADD, GROUP_DISCARD, GROUP_SEND, PEEK, POP, SEND
from .serializers import (
    MessageCodec,
    UndecodableMessage,
    envelope_head,
    pack_envelope,
    unpack_envelope,
)
from .transport import Endpoint, ScriptCall, SyncShard

__all__ = [
    "DropLog",
    "PlanningMixin",
    "SendPlan",
    "Topology",
    "glob_escape",
    "send_failure",
    "shard_failure",
]

logger = logging.getLogger("channels_classic.layers.redis")

#: Channel lists whose Redis keys ``_keys_by_shard`` keeps (a worker has one; a server a few).
_KEYS_CACHE_LIMIT = 256


def shard_failure(error: BaseException | None) -> BaseException:
    """The exception a receive raises when every shard it needs is failing."""
    if error is None or isinstance(error, LayerUnavailable):
        # A fresh instance: the recorded one may be raised in several threads at once.
        return LayerUnavailable(str(error) if error else "No Redis shard answers")
    return error


def send_failure(
    full_error: BaseException, full: bool, unavailable: LayerUnavailable | None
) -> BaseException:
    """ChannelFull when any reachable share was full (back-pressure), else the outage."""
    if full or unavailable is None:
        return full_error
    return LayerUnavailable(str(unavailable))


def glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a prefix matches only itself."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


class DropLog:
    """Counts messages dropped for a reason and logs a summary at most every ``interval`` s.

    A dropped message must leave a trace, but an overloaded process may drop thousands a
    second; one line per interval says how many and why.  The first drop is logged at once.
    """

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._next = 0.0

    def add(self, reason: str, count: int = 1) -> None:
        """Record ``count`` messages dropped because of ``reason`` (a short phrase)."""
        if count <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._pending[reason] += count
            if now < self._next:
                return
            summary = ", ".join(f"{n} {why}" for why, n in sorted(self._pending.items()))
            self._pending.clear()
            self._next = now + self.interval
        logger.warning("Dropped messages: %s", summary)


@dataclass
class Topology:
    """The shards of a layer, in hash-ring order."""

    endpoints: list[Endpoint]
    ring: RendezvousRing
    shards: list[SyncShard]


@dataclass
class SendPlan:
    """Where one message goes: (shard, capacity share) in the order to try."""

    channel: str
    envelope: bytes
    targets: list[tuple[int, int]]


class PlanningMixin:
    """The pure half of :class:`~.core.RedisChannelLayer` (see the module docstring)."""

    # Set by the layer's constructor.
    prefix: str
    stats_prefix: str
    statistics: bool
    capacity: int
    process_channel_capacity: int
    group_expiry: float
    expiry: float
    global_statistics_expiry: int
    channel_statistics_expiry: int
    global_stats_key: str
    _expiry_ms: int
    _list_ttl_ms: int
    _group_ttl: int
    _clock: Callable[[], float]
    _codec: MessageCodec
    _round_robin: Any
    _local_stats: Counter[str]
    _local_stats_lock: Any
    _drops: DropLog

    if TYPE_CHECKING:  # provided by BaseChannelLayer and the layer class
        from ..base import ChannelFull

        def get_capacity(self, channel: str) -> int: ...
        def check_size(self, size: int, channel: str) -> None: ...
        def _topology(self) -> Topology: ...
        def shard_for(self, name: str) -> int: ...

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

    def _plan_send(self, channel: str, message: object, attempts: int) -> SendPlan:
        validate_channel_name(channel)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ValueError(f"attempts must be a non-negative int, not {attempts!r}")
        body = self._encode(channel, message)
        envelope = pack_envelope(self._now_ms() + self._expiry_ms, attempts, channel, body)
        return SendPlan(channel, envelope, self._send_targets(channel))

    def _send_call(self, plan: SendPlan, capacity: int, last: bool) -> ScriptCall:
        keys = [self._list_key(plan.channel)]
        if self.statistics:
            keys.append(self._global_stats_key())
            if "?" not in plan.channel:
                keys.append(self._channel_stats_key(plan.channel))
        args: list[str | bytes | int | float] = [
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
        """Redis keys of ``names``, by shard.  The result is shared: do not modify it.

        A worker asks for the same few channels before every message, so results are kept
        (a bounded number, for the current topology).
        """
        topo = self._topology()
        names = tuple(names)
        cache: dict[tuple[str, ...], dict[int, list[str]]] | None = getattr(
            self, "_keys_cache", None)
        if cache is None or getattr(self, "_keys_cache_topology", None) is not topo:
            cache = {}
            self._keys_cache = cache
            self._keys_cache_topology = topo
        found = cache.get(names)
        if found is None:
            found = self._compute_keys_by_shard(topo, names)
            if len(cache) >= _KEYS_CACHE_LIMIT:
                cache.clear()
            cache[names] = found
        return found

    def _compute_keys_by_shard(self, topo: Topology, names: tuple[str, ...]
                               ) -> dict[int, list[str]]:
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
        args: list[str | bytes | int | float] = [
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
        self._drops.add("expired before delivery", expired)
        return deliveries

    def _entries_from_pop(self, keys: Sequence[str], result: Any) -> list[tuple[str, bytes]]:
        """Entries of a POP script reply ``{expired, index, entry, index, entry...}``."""
        items = result or [0]
        self._drops.add("expired before delivery", int(items[0]))
        return [(keys[int(items[i]) - 1], items[i + 1]) for i in range(1, len(items), 2)]

    def _note_group_send(self, group: str, result: Any) -> None:
        """Log members a group send skipped (``{sent, skipped}`` from the script)."""
        if result and int(result[1]):
            self._drops.add(f"skipped by send_group({group!r}): member at capacity",
                            int(result[1]))

    @staticmethod
    def _entries_from_blmpop(result: Any) -> list[tuple[str, bytes]]:
        if not result:
            return []
        key, items = result
        name = key.decode("ascii") if isinstance(key, bytes) else str(key)
        return [(name, item) for item in items]

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
