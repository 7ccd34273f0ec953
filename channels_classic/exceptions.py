"""Exceptions consumers raise to steer the worker, and errors the runtime raises.

All names and meanings follow Channels 1.x, so ``from channels_classic.exceptions import
ConsumeLater`` is the only change ported code needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .message import Message

__all__ = [
    "ChannelSocketException",
    "ConsumeLater",
    "DenyConnection",
    "InvalidMessage",
    "RequestAborted",
    "RequestTimeout",
    "ResponseLater",
    "SendNotAvailableOnDemultiplexer",
    "WebsocketCloseException",
]


class ConsumeLater(Exception):
    """Put the message back on its channel to be consumed again later.

    The worker requeues it with its redelivery count kept outside the message content, up to
    a limit (``CHANNELS_CONSUME_LATER_RETRIES``, default 10); past the limit it is dropped,
    logged and counted.
    """


class ResponseLater(Exception):
    """Raised by a view that promises another consumer will answer this request."""


class RequestTimeout(Exception):
    """Reading the request body took longer than the body timeout (answered with 408)."""


class RequestAborted(Exception):
    """The client went away while the request body was being read (no response is sent)."""


class InvalidMessage(TypeError, ValueError):
    """A message that is not a dict was given to ``Channel.send`` or ``Group.send``.

    It is both a ``TypeError`` (what ``Channel.send`` raised in 1.x) and a ``ValueError`` (what
    ``Group.send`` raised), so existing ``except`` clauses keep working.
    """


class ChannelSocketException(Exception):
    """Base for exceptions that, raised from a consumer, act on the client's socket.

    The worker calls :meth:`run` with the message being consumed.
    """

    def run(self, message: Message) -> None:
        """Act on the socket; subclasses must override."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(message)")


class DenyConnection(ChannelSocketException):
    """Raised by a ``websocket.connect`` consumer to refuse the connection (HTTP 403)."""

    def run(self, message: Message) -> None:
        """Send ``{"close": True}`` on the reply channel; the server answers the handshake 403."""
        if message.channel.name != "websocket.connect":
            raise ValueError(
                "DenyConnection can only be raised by a websocket.connect consumer, "
                f"not one for {message.channel.name!r}"
            )
        _reply(message, {"close": True})


class WebsocketCloseException(ChannelSocketException):
    """Close the client's WebSocket, optionally with a close code (default 1000)."""

    def __init__(self, code: int | None = None) -> None:
        if code is not None and (
            not isinstance(code, int) or isinstance(code, bool) or not 1000 <= code <= 4999
        ):
            raise ValueError(f"WebSocket close codes are ints from 1000 to 4999, not {code!r}")
        super().__init__(code)
        self.code = code

    def run(self, message: Message) -> None:
        """Send ``{"close": code or True}`` to the socket the message came from."""
        _reply(message, {"close": self.code if self.code is not None else True})


class SendNotAvailableOnDemultiplexer(Exception):
    """Sending from a ``WebsocketDemultiplexer`` is ambiguous; use the stream's multiplexer."""


def _reply(message: Message, content: dict[str, Any]) -> None:
    if message.reply_channel is None:
        raise ValueError(
            f"Cannot act on the socket: the message on {message.channel.name!r} has no "
            "reply_channel"
        )
    message.reply_channel.send(content, immediately=True)
