"""``ViewConsumer``: the default ``http.request`` consumer, which runs Django views.

Each reply message is sent the moment the handler produces it (``immediately=True``), so a
streaming response reaches the client part by part instead of after the view finishes.  The
final one goes through the layer's ``send_many``, so a worker's reply round trip also takes its
next message (see ``RedisChannelLayer.fetch_ahead``).

A full reply channel means the interface server is behind (or gone).  The spec says to wait
and retry, optionally giving up after a timeout; Channels 1.x retried forever and could pin a
worker on a dead client.  Here each message is retried with capped exponential backoff for at
most ``CHANNELS_HTTP_REPLY_TIMEOUT`` seconds (default 10); then the rest of the response is
abandoned, the response is closed and the failure logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from channels_classic.layers.base import ChannelFull, MessageTooLarge
from channels_classic.message import note_send

from . import conf
from .asgi_handler import AsgiHandler

__all__ = ["ViewConsumer", "send_reply"]

logger = logging.getLogger("channels_classic.handler")

# Backoff between retries of a full reply channel: starts short because the interface server
# usually drains its channel within milliseconds, capped so a give-up is noticed promptly.
_FIRST_DELAY = 0.005
_MAX_DELAY = 0.25


def send_reply(
    channel: Any,
    content: dict[str, Any],
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    last: bool = False,
) -> bool:
    """Send one reply message now, retrying while the channel is full.

    Args:
        channel: a :class:`~channels_classic.channel.Channel`.
        content: the message.
        timeout: seconds to keep retrying a full channel.
        sleep, clock: injectable for tests.
        last: the response's final message; it goes through the layer's ``send_many``,
            which lets a worker take its next message in the same round trip.

    Returns:
        True if the message was sent; False if the channel stayed full for ``timeout``
        seconds or the message is too large (both logged).  Other layer errors (e.g.
        ``LayerUnavailable``) propagate to the worker.
    """
    deadline = clock() + timeout
    delay = _FIRST_DELAY
    while True:
        try:
            _send_now(channel, content, last)
        except ChannelFull:
            remaining = deadline - clock()
            if remaining <= 0:
                logger.error(
                    "Gave up sending an HTTP response to %s: its channel stayed full for "
                    "%.3g s (CHANNELS_HTTP_REPLY_TIMEOUT); the rest of the response is dropped",
                    channel.name, timeout,
                )
                return False
            sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)
        except MessageTooLarge as exc:
            logger.error("Could not send an HTTP response to %s: %s", channel.name, exc)
            return False
        else:
            return True


def _send_now(channel: Any, content: dict[str, Any], last: bool) -> None:
    send_many = getattr(channel.channel_layer, "send_many", None) if last else None
    if send_many is None:
        channel.send(content, immediately=True)
        return
    # Only for the final message: taking the next message ahead while a response is still
    # streaming would hold that message back behind it.
    note_send(channel.name)
    (error,) = send_many([(channel.name, content)])
    if error is not None:
        raise error


class ViewConsumer:
    """Consumer that answers ``http.request`` messages with Django's views.

    ``Router.check_default()`` routes ``http.request`` here unless the routing already does.
    Subclasses change :attr:`handler_class` (``StaticFilesConsumer`` does).
    """

    handler_class: type[AsgiHandler] = AsgiHandler

    def __init__(self) -> None:
        self.handler = self.handler_class()

    def __call__(self, message: Any, **kwargs: Any) -> None:
        """Handle one request and send its reply messages as they are produced."""
        reply_channel = message.reply_channel
        if reply_channel is None:
            logger.error(
                "http.request message without a reply_channel (path %r); nobody to answer",
                message.content.get("path"),
            )
            return
        timeout = conf.reply_timeout()
        replies = self.handler(message)
        try:
            for reply in replies:
                last = not reply.get("more_content", False)
                if not send_reply(reply_channel, reply, timeout, last=last):
                    return
        finally:
            # Runs the response's close() (files, request_finished) even when abandoned.
            close = getattr(replies, "close", None)
            if close is not None:
                close()
