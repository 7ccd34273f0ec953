"""``Message``, the object consumers receive, and consumer atomicity (buffered sends).

Consumer atomicity
    While a consumer runs, ``Channel.send`` and ``Group.send`` (without ``immediately=True``)
    do not go to the layer at once: they are buffered per thread and flushed, in order, when the
    consumer returns.  That is what lets a ``websocket.connect`` consumer save its session before
    the client sees the accept.  If the consumer raises, its buffered sends are still flushed,
    as in Channels 1.x — the exception is about the consumer's own work, and a reply already
    decided (e.g. a close) should reach the client.

    The worker (and the test client) wrap each consumer call in :func:`consumer_scope`.  Flushing
    never raises: a channel that stays full for ``retry_time`` seconds, an oversized message or
    an unreachable layer is logged and reported in the returned :class:`FlushReport`, which the
    worker counts.  A full channel is retried with capped backoff, the only wait in the flush.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .layers.base import ChannelFull
from .layers.validation import copy_message

if TYPE_CHECKING:
    from .channel import Channel

__all__ = [
    "FlushReport",
    "Message",
    "consumer_scope",
    "discard_pending",
    "note_send",
    "pending_sends",
]

logger = logging.getLogger("channels_classic.message")

#: Seconds a buffered send keeps retrying a full channel before it is dropped.
DEFAULT_RETRY_TIME = 2.0
_RETRY_FIRST_DELAY = 0.01
_RETRY_MAX_DELAY = 0.2


class Message:
    """A message received on a channel, as handed to a consumer.

    Attributes:
        content: the message dict (``message["path"]`` reads from it).
        channel: the :class:`~channels_classic.channel.Channel` it arrived on.
        reply_channel: a Channel for ``content["reply_channel"]``, or None.
        channel_layer: the layer it came from.
        attempts: how many times it was put back with ``ConsumeLater`` before this delivery.
    """

    def __init__(
        self,
        content: dict[str, Any],
        channel_name: str,
        channel_layer: Any,
        attempts: int = 0,
    ) -> None:
        from .channel import Channel

        self.content = content
        self.channel_layer = channel_layer
        self.channel = Channel(channel_name, channel_layer=channel_layer)
        self.attempts = attempts
        reply = content.get("reply_channel")
        self.reply_channel: Channel | None = (
            Channel(reply, channel_layer=channel_layer) if reply else None
        )

    # Dict-like access to the content, as in 1.x.
    def __getitem__(self, key: str) -> Any:
        return self.content[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.content[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.content

    def keys(self) -> Any:
        """The content's keys."""
        return self.content.keys()

    def values(self) -> Any:
        """The content's values."""
        return self.content.values()

    def items(self) -> Any:
        """The content's items."""
        return self.content.items()

    def get(self, key: str, default: Any = None) -> Any:
        """``content.get(key, default)``."""
        return self.content.get(key, default)

    def copy(self) -> Message:
        """A new Message with a deep copy of the content (session attributes are not copied)."""
        return type(self)(
            copy.deepcopy(self.content), self.channel.name, self.channel_layer, self.attempts
        )

    def __repr__(self) -> str:
        return f"<Message on {self.channel.name!r} keys={sorted(self.content)!r}>"


# -- consumer atomicity --------------------------------------------------------------------


@dataclass
class _Pending:
    layer: Any
    target: str
    content: dict[str, Any]
    is_group: bool


@dataclass
class FlushReport:
    """What happened to a consumer's buffered sends.

    Attributes:
        sent: messages handed to the layer.
        dropped: ``(target, reason)`` for each message that could not be sent.
        touched: channel names the consumer sent to, buffered or immediately, whether or not
            the send succeeded (the worker uses it to tell whether a connect consumer answered).
    """

    sent: int = 0
    dropped: list[tuple[str, str]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


@dataclass
class _Scope:
    pending: list[_Pending] = field(default_factory=list)
    report: FlushReport = field(default_factory=FlushReport)


class _Buffer(threading.local):
    def __init__(self) -> None:
        self.stack: list[_Scope] = []


_buffer = _Buffer()


def pending_sends() -> list[_Pending] | None:
    """The current thread's send buffer, or None when no consumer is running."""
    return _buffer.stack[-1].pending if _buffer.stack else None


def discard_pending() -> None:
    """Forget the sends the running consumer has buffered so far (used on ConsumeLater)."""
    if _buffer.stack:
        _buffer.stack[-1].pending.clear()


def note_send(target: str) -> None:
    """Record that the running consumer (if any) sent to ``target``."""
    if _buffer.stack:
        _buffer.stack[-1].report.touched.add(target)


def buffer_send(layer: Any, target: str, content: dict[str, Any], is_group: bool) -> bool:
    """Buffer a send if a consumer is running in this thread; return False otherwise.

    The content is validated and copied now, so a bad message raises at the call site and
    later mutation by the consumer does not change what is sent.
    """
    pending = pending_sends()
    if pending is None:
        return False
    copied, _ = copy_message(content)
    pending.append(_Pending(layer, target, copied, is_group))
    if not is_group:
        note_send(target)
    return True


@contextmanager
def consumer_scope(retry_time: float = DEFAULT_RETRY_TIME) -> Iterator[FlushReport]:
    """Buffer sends made inside the block and flush them, in order, when it exits.

    Yields the :class:`FlushReport`, filled in when the block exits (also on exceptions, which
    propagate after the flush).  Scopes nest: an inner scope flushes on its own exit.
    """
    scope = _Scope()
    _buffer.stack.append(scope)
    try:
        yield scope.report
    finally:
        _buffer.stack.pop()
        flush(scope.pending, scope.report, retry_time)


def flush(pending: list[_Pending], report: FlushReport, retry_time: float) -> None:
    """Send buffered messages in order; consecutive channel sends share one round trip."""
    index = 0
    while index < len(pending):
        item = pending[index]
        if item.is_group:
            _send_group(item, report)
            index += 1
            continue
        batch = [item]
        index += 1
        while (
            index < len(pending)
            and not pending[index].is_group
            and pending[index].layer is item.layer
        ):
            batch.append(pending[index])
            index += 1
        _send_batch(batch, report, retry_time)


def _send_group(item: _Pending, report: FlushReport) -> None:
    try:
        item.layer.send_group(item.target, item.content)
    except Exception as exc:  # the layer's own errors; never escape into the worker
        _drop(report, f"group {item.target}", exc)
    else:
        report.sent += 1


def _send_batch(batch: list[_Pending], report: FlushReport, retry_time: float) -> None:
    layer = batch[0].layer
    deadline = time.monotonic() + retry_time
    delay = _RETRY_FIRST_DELAY
    todo = batch
    while todo:
        try:
            results = layer.send_many([(item.target, item.content) for item in todo])
        except Exception as exc:  # e.g. LayerUnavailable for the whole batch
            for item in todo:
                _drop(report, item.target, exc)
            return
        full: list[_Pending] = []
        for item, error in zip(todo, results, strict=True):
            if error is None:
                report.sent += 1
            elif isinstance(error, ChannelFull) and time.monotonic() < deadline:
                full.append(item)
            else:
                _drop(report, item.target, error)
        todo = full
        if todo:
            # The receiver is behind; give it a moment.  Bounded by retry_time in total.
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, _RETRY_MAX_DELAY)


def _drop(report: FlushReport, target: str, error: BaseException) -> None:
    reason = f"{type(error).__name__}: {error}"
    report.dropped.append((target, reason))
    logger.error("Dropped a message for %s sent by a consumer (%s)", target, reason)


def send_now_or_buffer(channel: Channel, content: dict[str, Any], immediately: bool) -> None:
    """Send to ``channel`` at once, or buffer it when a consumer is running."""
    if immediately or not buffer_send(channel.channel_layer, channel.name, content, False):
        note_send(channel.name)
        channel.channel_layer.send(channel.name, content)
