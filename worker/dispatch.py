"""Run one received message through the router and its consumer, with the 1.x error policy.

This is the part of the worker that does not care where messages come from: ``runworker``,
``runserver``'s worker threads and the test client all call :func:`dispatch`.  It never raises
for anything a consumer or a message does; it returns an :class:`Outcome` that says what
happened, which the caller logs and counts.

Policy
    * No route → the message is dropped (``Outcome.UNROUTED``).
    * A message that cannot even be wrapped (not a dict, a ``reply_channel`` that is not a
      channel name) → dropped (``Outcome.MALFORMED``).  The worker checks messages more
      closely before calling :func:`dispatch` (see :mod:`worker.validate`).
    * ``ConsumeLater`` → the message goes back on its channel with its redelivery count (kept
      outside the content) increased, until ``consume_later_limit``; then it is dropped.
    * ``ChannelSocketException`` (``DenyConnection``, ``WebsocketCloseException``) → its
      ``run(message)`` acts on the socket.
    * Any other exception → logged with the channel and consumer name; the message is dropped.
    * A ``websocket.connect`` consumer that returns without sending anything to the client
      (no accept, no close, no data) gets its connection accepted, which is what Channels 0.x
      did and what many 1.x examples assume; ``CHANNELS_AUTO_ACCEPT_CONNECT = False`` restores
      the 1.x behaviour (the server rejects the socket when its connect timeout passes).
    * Sends made by the consumer are flushed when it returns (consumer atomicity), even when
      it raised — except after ``ConsumeLater``: the consumer will run again and send again.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from channels_classic.exceptions import ChannelSocketException, ConsumeLater
from channels_classic.layers.base import ChannelFull, Delivery
from channels_classic.message import (
    DEFAULT_RETRY_TIME,
    FlushReport,
    Message,
    consumer_scope,
    discard_pending,
)
from channels_classic.signals import consumer_finished, consumer_started
from channels_classic.utils import name_that_thing

__all__ = ["DEFAULT_CONSUME_LATER_LIMIT", "Outcome", "Result", "dispatch", "name_that_thing"]

logger = logging.getLogger("channels_classic.worker")

#: How many times a message may be put back with ConsumeLater (1.x's message_retries).
DEFAULT_CONSUME_LATER_LIMIT = 10


class Outcome(enum.Enum):
    """What became of a dispatched message."""

    CONSUMED = "consumed"
    UNROUTED = "unrouted"
    REQUEUED = "requeued"
    DROPPED_RETRIES = "dropped-retries"  # ConsumeLater past the limit, or requeue impossible
    SOCKET_ACTION = "socket-action"  # a ChannelSocketException ran
    FAILED = "failed"  # the consumer raised
    MALFORMED = "malformed"  # the message could not be handed to a consumer at all


@dataclass
class Result:
    """The outcome plus details for logging and counters."""

    outcome: Outcome
    consumer: str | None = None
    duration: float = 0.0
    dropped_sends: list[tuple[str, str]] = field(default_factory=list)
    error: BaseException | None = None


def dispatch(
    delivery: Delivery,
    layer: Any,
    router: Any,
    *,
    consume_later_limit: int = DEFAULT_CONSUME_LATER_LIMIT,
    send_retry_time: float = DEFAULT_RETRY_TIME,
) -> Result:
    """Route ``delivery`` and run its consumer; never raises for consumer or message faults.

    Args:
        delivery: what the layer returned.
        layer: the (wrapped) layer; consumers' sends and requeues go to it.
        router: anything with ``match(message) -> (consumer, kwargs) | None``.
        consume_later_limit: redeliveries allowed for ``ConsumeLater``.
        send_retry_time: how long buffered sends retry a full channel.
    """
    try:
        message = Message(delivery.content, delivery.channel, layer, delivery.attempts)
    except Exception as exc:  # e.g. a reply_channel that is an int; never the worker's end
        logger.error(
            "Malformed message on %s dropped: %s: %s", delivery.channel, type(exc).__name__, exc
        )
        return Result(Outcome.MALFORMED, error=exc)
    if delivery.attempts >= consume_later_limit:
        # 1.x's hint to decorators that this is the last chance (e.g. channel_session).
        message.__doomed__ = True  # type: ignore[attr-defined]
    try:
        found = router.match(message)
    except Exception as exc:  # a broken routing filter must not stop the worker
        logger.exception("Routing failed for a message on %s", delivery.channel)
        return Result(Outcome.FAILED, error=exc)
    if found is None:
        logger.error(
            "No route for a message on %s (keys: %s); dropped",
            delivery.channel,
            ", ".join(sorted(delivery.content)),
        )
        return Result(Outcome.UNROUTED)
    consumer, kwargs = found
    consumer_name = name_that_thing(consumer)
    result = Result(Outcome.CONSUMED, consumer=consumer_name)
    started = time.perf_counter()
    consumer_started.send(sender=type(message), environ=message.content)
    try:
        with consumer_scope(send_retry_time) as report:
            try:
                consumer(message, **kwargs)
            except ConsumeLater:
                # The consumer asked to run again later; what it buffered so far would be
                # sent twice, so it is discarded.
                discard_pending()
                result.outcome = _requeue(delivery, layer, consume_later_limit)
            except ChannelSocketException as exc:
                result.outcome = Outcome.SOCKET_ACTION
                try:
                    exc.run(message)
                except Exception as run_error:
                    result.outcome = Outcome.FAILED
                    result.error = run_error
                    logger.exception(
                        "%s raised by %s on %s could not act on the socket",
                        type(exc).__name__, consumer_name, delivery.channel,
                    )
            except Exception as exc:
                result.outcome = Outcome.FAILED
                result.error = exc
                logger.exception(
                    "Consumer %s failed on a message from %s", consumer_name, delivery.channel
                )
            else:
                _auto_accept(message, report)
    finally:
        result.duration = time.perf_counter() - started
        try:
            consumer_finished.send(sender=type(message))
        except Exception:  # a receiver's bug must not stop the worker
            logger.exception("A consumer_finished receiver failed")
    result.dropped_sends = report.dropped
    return result


def _auto_accept(message: Message, report: FlushReport) -> None:
    if message.channel.name != "websocket.connect" or message.reply_channel is None:
        return
    if not getattr(settings, "CHANNELS_AUTO_ACCEPT_CONNECT", True):
        return
    if message.reply_channel.name not in report.touched:
        message.reply_channel.send({"accept": True})


def _requeue(delivery: Delivery, layer: Any, limit: int) -> Outcome:
    attempts = delivery.attempts + 1
    if attempts > limit:
        logger.warning(
            "Message on %s was put back with ConsumeLater %d times; dropped",
            delivery.channel, delivery.attempts,
        )
        return Outcome.DROPPED_RETRIES
    try:
        layer.send(delivery.channel, delivery.content, attempts=attempts)
    except ChannelFull:
        logger.warning(
            "Could not put a ConsumeLater message back on %s: channel full; dropped",
            delivery.channel,
        )
        return Outcome.DROPPED_RETRIES
    except Exception:
        logger.exception("Could not put a ConsumeLater message back on %s", delivery.channel)
        return Outcome.DROPPED_RETRIES
    return Outcome.REQUEUED
