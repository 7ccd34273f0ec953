"""The ASGI 1.0 channel-layer contract shared by every backend.

A layer moves dict messages between processes over named channels.  This base class owns
everything that does not depend on storage: name and message validation, per-channel capacity
lookup, size limits and the 1.x compatibility surface (``receive_many``, exception attributes).
Backends implement :meth:`send`, :meth:`fetch`, the ``groups`` and ``flush`` extensions, and the
asyncio twins used by the interface server.

Beyond ASGI 1.0 every layer offers:

* :meth:`fetch` — receive up to ``max_messages`` at once as :class:`Delivery` objects that
  carry a redelivery count *outside* the user's dict (the worker's ``ConsumeLater`` counter);
* :meth:`send_many` — several sends in one round trip (the worker flushes a consumer's buffered
  sends with it);
* ``*_async`` coroutines for code running on an asyncio event loop.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .validation import (
    non_local_name,
    random_token,
    validate_channel_name,
    validate_group_name,
    validate_receive_channels,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_EXPIRY",
    "DEFAULT_GROUP_EXPIRY",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_PROCESS_CHANNEL_CAPACITY",
    "BaseChannelLayer",
    "ChannelFull",
    "Delivery",
    "LayerUnavailable",
    "MessageTooLarge",
    "new_process_prefix",
]

#: Seconds an unread message lives (the spec's suggestion).
DEFAULT_EXPIRY = 60
#: Seconds a group membership lives after its last ``group_add`` (the spec's default).
DEFAULT_GROUP_EXPIRY = 86400
#: Messages a normal or single-reader channel holds before ``send`` raises ``ChannelFull``.
DEFAULT_CAPACITY = 100
#: Messages one process's ``prefix!`` channel holds.  Every connection of an interface server
#: shares that one queue, so it gets a far larger default than a single channel: a broadcast
#: to a 100-member room puts 100 messages on it at once, and the original 100 silently lost
#: them.
DEFAULT_PROCESS_CHANNEL_CAPACITY = 10_000
#: Largest encoded message accepted; the spec requires layers to accept 1 MB.
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
#: Longest single wait of a blocking receive, so callers can notice they should stop.
DEFAULT_RECEIVE_TIMEOUT = 1.0


class ChannelFull(Exception):
    """Raised by ``send`` when the target channel is at capacity."""


class MessageTooLarge(Exception):
    """Raised by ``send`` when the encoded message is larger than the layer accepts."""


class LayerUnavailable(ConnectionError):
    """The layer's backing store (e.g. Redis) cannot be reached right now.

    Raised by any layer operation after the backend's own short retries are used up.  Callers
    that run forever (the worker, the interface server) log it once, back off and try again.
    """


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received message.

    Attributes:
        channel: the full channel name the message was sent to.
        content: the message dict, exactly as sent.
        attempts: how many times the message was handed back to the layer for another try
            (``ConsumeLater``); 0 for a first delivery.  Kept out of ``content`` on purpose.
    """

    channel: str
    content: dict[str, Any]
    attempts: int = 0


CapacitySpec = Mapping[Any, int] | Iterable[tuple[Any, int]] | None


class BaseChannelLayer:
    """Common behaviour of all channel layers; see the module docstring."""

    ChannelFull: ClassVar[type[ChannelFull]] = ChannelFull
    MessageTooLarge: ClassVar[type[MessageTooLarge]] = MessageTooLarge
    LayerUnavailable: ClassVar[type[LayerUnavailable]] = LayerUnavailable

    #: ASGI extension names this layer supports.
    extensions: ClassVar[list[str]] = []
    #: True when the layer cannot carry messages between processes (the in-memory layer).
    local_only: ClassVar[bool] = False

    def __init__(
        self,
        expiry: float = DEFAULT_EXPIRY,
        group_expiry: float = DEFAULT_GROUP_EXPIRY,
        capacity: int = DEFAULT_CAPACITY,
        channel_capacity: CapacitySpec = None,
        process_channel_capacity: int = DEFAULT_PROCESS_CHANNEL_CAPACITY,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        receive_timeout: float = DEFAULT_RECEIVE_TIMEOUT,
    ) -> None:
        if expiry <= 0:
            raise ValueError(f"expiry must be a positive number of seconds, not {expiry!r}")
        if group_expiry <= 0:
            raise ValueError(f"group_expiry must be positive, not {group_expiry!r}")
        for label, value in (
            ("capacity", capacity),
            ("process_channel_capacity", process_channel_capacity),
            ("max_message_size", max_message_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{label} must be a positive int, not {value!r}")
        if receive_timeout <= 0:
            raise ValueError(f"receive_timeout must be positive, not {receive_timeout!r}")
        self.expiry = expiry
        self.group_expiry = group_expiry
        self.capacity = capacity
        self.process_channel_capacity = process_channel_capacity
        self.max_message_size = max_message_size
        self.receive_timeout = receive_timeout
        self.channel_capacity = self.compile_capacities(channel_capacity)
        self._capacity_cache: dict[str, int] = {}

    # -- configuration -----------------------------------------------------------------

    @staticmethod
    def compile_capacities(spec: CapacitySpec) -> list[tuple[re.Pattern[str], int]]:
        """Turn ``{glob-or-regex: capacity}`` (or pairs) into an ordered list of patterns.

        Globs use :func:`fnmatch.translate`; compiled regexes are used as they are.  The first
        pattern that matches wins, so pass pairs or an ordered dict to control precedence.
        """
        if spec is None:
            return []
        items = spec.items() if isinstance(spec, Mapping) else spec
        compiled: list[tuple[re.Pattern[str], int]] = []
        for pattern, value in items:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Capacity for {pattern!r} must be a positive int, not {value!r}")
            if isinstance(pattern, re.Pattern):
                compiled.append((pattern, value))
            elif isinstance(pattern, str):
                compiled.append((re.compile(fnmatch.translate(pattern)), value))
            else:
                raise TypeError(
                    f"channel_capacity keys must be glob strings or compiled regexes, "
                    f"not {type(pattern).__name__}"
                )
        return compiled

    def get_capacity(self, channel: str) -> int:
        """Capacity of ``channel``; process-local names share their prefix's capacity."""
        key = non_local_name(channel)
        cached = self._capacity_cache.get(key)
        if cached is not None:
            return cached
        capacity = self.process_channel_capacity if key.endswith("!") else self.capacity
        for pattern, value in self.channel_capacity:
            if pattern.match(key):
                capacity = value
                break
        # Single-reader names are unique per request; caching them would grow without bound.
        if "?" not in key and len(self._capacity_cache) < 4096:
            self._capacity_cache[key] = capacity
        return capacity

    # -- validation helpers (asgiref's public names, kept for 1.x code) ---------------

    def valid_channel_name(self, name: str, receive: bool = False) -> bool:
        """Return True or raise ``TypeError`` explaining what is wrong with ``name``."""
        validate_channel_name(name, receive=receive)
        return True

    def valid_channel_names(self, names: Sequence[str], receive: bool = False) -> bool:
        """Check a non-empty list of names; raise ``TypeError``/``ValueError`` if invalid."""
        if receive:
            validate_receive_channels(names)
        else:
            if not names:
                raise ValueError("At least one channel name is needed")
            for name in names:
                validate_channel_name(name)
        return True

    def valid_group_name(self, name: str) -> bool:
        """Return True or raise ``TypeError`` explaining what is wrong with ``name``."""
        validate_group_name(name)
        return True

    def non_local_name(self, name: str) -> str:
        """The part of ``name`` up to and including ``!`` (or all of it)."""
        return non_local_name(name)

    def check_size(self, size: int, channel: str) -> None:
        """Raise :class:`MessageTooLarge` when ``size`` exceeds ``max_message_size``."""
        if size > self.max_message_size:
            raise self.MessageTooLarge(
                f"Message to {channel!r} is {size} bytes encoded; this layer accepts at most "
                f"{self.max_message_size} (max_message_size). Send large payloads in chunks."
            )

    # -- core API ------------------------------------------------------------------------

    def send(self, channel: str, message: dict[str, Any], *, attempts: int = 0) -> None:
        """Queue ``message`` on ``channel``.

        Raises:
            ChannelFull: the channel is at capacity.
            MessageTooLarge: the encoded message is over ``max_message_size``.
            TypeError / ValueError: invalid name or message contents.
        """
        raise NotImplementedError

    def send_many(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Send several messages, in one round trip where the backend can.

        Returns one entry per item: None when it was queued, or the exception (``ChannelFull``,
        ``MessageTooLarge``, ``TypeError``...) that stopped it.  Never raises for one item.
        """
        results: list[BaseException | None] = []
        for channel, message in items:
            try:
                self.send(channel, message)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    def fetch(
        self, channels: Iterable[str], block: bool = False, max_messages: int = 1
    ) -> list[Delivery]:
        """Receive up to ``max_messages`` from ``channels``.

        With ``block=True`` waits until at least one message arrives or ``receive_timeout``
        passes (then returns an empty list).  Process-local channels are given as their
        ``prefix!`` and come back with their full names.
        """
        raise NotImplementedError

    def receive(
        self, channels: Iterable[str], block: bool = False
    ) -> tuple[str, dict[str, Any]] | tuple[None, None]:
        """ASGI ``receive``: ``(channel, message)`` or ``(None, None)``."""
        deliveries = self.fetch(channels, block=block, max_messages=1)
        if deliveries:
            delivery = deliveries[0]
            return delivery.channel, delivery.content
        return None, None

    def receive_many(
        self, channels: Iterable[str], block: bool = False
    ) -> tuple[str, dict[str, Any]] | tuple[None, None]:
        """Deprecated pre-1.0 name of :meth:`receive`."""
        warnings.warn(
            "receive_many() is deprecated; use receive()", DeprecationWarning, stacklevel=2
        )
        return self.receive(channels, block=block)

    def new_channel(self, pattern: str) -> str:
        """Return a fresh single-reader channel name ``pattern + random``.

        Only ``?`` patterns are accepted, as the ASGI 1.0 conformance suite requires; the
        random part is 20 letters from a CSPRNG, so collisions do not need a round trip to
        rule out.  Process-local names come from :func:`new_process_prefix`.
        """
        if not isinstance(pattern, str) or not pattern.endswith("?"):
            raise TypeError(
                f"new_channel() needs a pattern ending in '?', got {pattern!r}; process-local "
                "'!' names are chosen by the receiving process (see new_process_prefix())"
            )
        return validate_channel_name(pattern + random_token(20))

    # -- groups extension ------------------------------------------------------------------

    def group_add(self, group: str, channel: str) -> None:
        """Add ``channel`` to ``group`` (idempotent; refreshes the membership's expiry)."""
        raise NotImplementedError

    def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; no error if it is not a member."""
        raise NotImplementedError

    def group_channels(self, group: str) -> list[str]:
        """Current members of ``group``."""
        raise NotImplementedError

    def send_group(self, group: str, message: dict[str, Any]) -> None:
        """Send to every member; full members are skipped and counted, never raised."""
        raise NotImplementedError

    # -- flush extension ---------------------------------------------------------------------

    def flush(self) -> None:
        """Delete every message and group membership this layer holds."""
        raise NotImplementedError

    # -- asyncio API -------------------------------------------------------------------------

    async def send_async(self, channel: str, message: dict[str, Any]) -> None:
        """Coroutine form of :meth:`send`."""
        raise NotImplementedError

    async def send_many_async(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Coroutine form of :meth:`send_many`: in order, one round trip where possible."""
        results: list[BaseException | None] = []
        for channel, message in items:
            try:
                await self.send_async(channel, message)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    async def fetch_async(self, channels: Iterable[str], max_messages: int = 1) -> list[Delivery]:
        """Coroutine form of a blocking :meth:`fetch`; ``[]`` after ``receive_timeout``."""
        raise NotImplementedError

    async def identity_async(self) -> str:
        """An opaque token that changes when the backend loses its data (e.g. Redis restarted).

        Long-running readers compare it after reconnecting: a change means every message and
        group membership held before is gone, and they log what was lost.
        """
        return self.identity()

    def identity(self) -> str:
        """Synchronous form of :meth:`identity_async`."""
        return f"{type(self).__name__}:{id(self):x}"

    async def receive_async(
        self, channels: Iterable[str]
    ) -> tuple[str, dict[str, Any]] | tuple[None, None]:
        """ASGI ``receive_async``: blocks until a message or the internal timeout."""
        deliveries = await self.fetch_async(channels, max_messages=1)
        if deliveries:
            return deliveries[0].channel, deliveries[0].content
        return None, None

    async def group_add_async(self, group: str, channel: str) -> None:
        """Coroutine form of :meth:`group_add`."""
        raise NotImplementedError

    async def group_discard_async(self, group: str, channel: str) -> None:
        """Coroutine form of :meth:`group_discard`."""
        raise NotImplementedError

    async def send_group_async(self, group: str, message: dict[str, Any]) -> None:
        """Coroutine form of :meth:`send_group`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and threads; the layer must not be used afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} expiry={self.expiry} capacity={self.capacity}>"


def new_process_prefix(name: str = "process") -> str:
    """Return a fresh process-local prefix ``name.<random>!`` for one receiving process.

    The process then names its local channels ``prefix + random_token()`` and receives on the
    prefix alone.
    """
    validate_channel_name(name + "?x")  # same alphabet rules, without a separator
    if "!" in name or "?" in name:
        raise TypeError(f"Process prefix base must not contain '!' or '?': {name!r}")
    return f"{name}.{random_token(12)}!"
