"""Class-based WebSocket consumers, JSON framing and stream multiplexing.

``WebsocketConsumer`` maps the three WebSocket channels to ``connect``/``receive``/
``disconnect`` and adds the 1.x conveniences: ``http_user``, automatic group membership
(``groups``), ordering flags and ``send``/``close``.  ``JsonWebsocketConsumer`` exchanges JSON
documents.  ``WebsocketDemultiplexer`` routes ``{"stream": ..., "payload": ...}`` frames of
one socket to a consumer per stream; those consumers answer through the
``WebsocketMultiplexer`` they are given as the ``multiplexer`` keyword argument.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.core.serializers.json import DjangoJSONEncoder

from ..auth import channel_and_http_session_user_from_http, channel_session_user_from_http
from ..channel import Channel, Group
from ..exceptions import SendNotAvailableOnDemultiplexer
from ..message import Message
from ..sessions import channel_and_http_session, enforce_ordering
from .base import BaseConsumer

__all__ = [
    "CLOSE_INVALID_PAYLOAD",
    "CLOSE_UNSUPPORTED_DATA",
    "JsonWebsocketConsumer",
    "WebsocketConsumer",
    "WebsocketDemultiplexer",
    "WebsocketMultiplexer",
]

logger = logging.getLogger("channels_classic.generic")

# The frame methods take parameters named ``bytes`` (the 1.x signature), which shadow the type.
bytes_type = bytes
bool_type = bool

#: RFC 6455 close code for a frame whose content does not match its type (bad JSON).
CLOSE_INVALID_PAYLOAD = 1007
#: RFC 6455 close code for a frame of a type the endpoint does not accept (binary for JSON).
CLOSE_UNSUPPORTED_DATA = 1003


class WebsocketConsumer(BaseConsumer):
    """A WebSocket connection's consumer; override ``connect``, ``receive``, ``disconnect``.

    Attributes:
        http_user: on connect, copy the logged-in user from the HTTP session into the channel
            session; every handler gets ``message.user`` (and ``message.channel_session``).
        http_user_and_session: the same, and ``message.http_session`` on every message.
        strict_ordering: handle the socket's messages strictly in order
            (``@enforce_ordering``).
        slight_ordering: handle the connect first, the rest in any order.
        groups: group names the socket joins on connect and leaves on disconnect (see
            :meth:`connection_groups` for names that depend on the route).
        path: the path of the socket.
    """

    method_mapping: ClassVar[dict[str, str]] = {
        "websocket.connect": "raw_connect",
        "websocket.receive": "raw_receive",
        "websocket.disconnect": "raw_disconnect",
    }
    http_user: ClassVar[bool] = False
    http_user_and_session: ClassVar[bool] = False
    strict_ordering: ClassVar[bool] = False
    slight_ordering: ClassVar[bool] = False
    groups: ClassVar[Iterable[str] | None] = None

    def __init__(self, message: Message, **kwargs: Any) -> None:
        self.path: str | None = message.content.get("path")
        super().__init__(message, **kwargs)

    def get_handler(self, message: Message, **kwargs: Any) -> Callable[..., Any]:
        """The mapped method wrapped in the session, auth and ordering decorators the class
        attributes ask for."""
        wants_user = self.http_user or self.http_user_and_session
        if wants_user and not self.channel_session_user:
            # The user is stored in the channel session on connect and read from it after.
            self.channel_session_user = True  # type: ignore[misc]
        handler = super().get_handler(message, **kwargs)
        if message.channel.name == "websocket.connect":
            if self.http_user_and_session:
                handler = channel_and_http_session_user_from_http(handler)
            elif self.http_user:
                handler = channel_session_user_from_http(handler)
        elif self.http_user_and_session:
            handler = channel_and_http_session(handler)
        if self.strict_ordering:
            return enforce_ordering(handler, slight=False)
        if self.slight_ordering:
            return enforce_ordering(handler, slight=True)
        return handler

    def connection_groups(self, **kwargs: Any) -> Iterable[str]:
        """Groups to join on connect and leave on disconnect; ``kwargs`` are the route's."""
        return self.groups or []

    def _group(self, name: str) -> Group:
        return Group(name, channel_layer=self.message.channel_layer)

    def raw_connect(self, message: Message, **kwargs: Any) -> None:
        """Join :meth:`connection_groups`, then call :meth:`connect`."""
        if message.reply_channel is not None:
            for group in self.connection_groups(**kwargs):
                self._group(group).add(message.reply_channel)
        self.connect(message, **kwargs)

    def connect(self, message: Message, **kwargs: Any) -> None:
        """Called on connect; accepts the socket.  Override to check or reject it."""
        self.message_reply({"accept": True})

    def raw_receive(self, message: Message, **kwargs: Any) -> None:
        """Call :meth:`receive` with the frame's text or bytes."""
        self.receive(text=message.content.get("text"), bytes=message.content.get("bytes"),
                     **kwargs)

    def receive(self, text: str | None = None, bytes: bytes | None = None, **kwargs: Any) -> None:
        """Called for every frame (``text`` or ``bytes`` is set).  Override it."""

    def raw_disconnect(self, message: Message, **kwargs: Any) -> None:
        """Leave :meth:`connection_groups`, then call :meth:`disconnect`."""
        if message.reply_channel is not None:
            for group in self.connection_groups(**kwargs):
                self._group(group).discard(message.reply_channel)
        self.disconnect(message, **kwargs)

    def disconnect(self, message: Message, **kwargs: Any) -> None:
        """Called when the socket has closed.  Override it."""

    def _check_not_demultiplexed(self) -> None:
        if isinstance(self.kwargs.get("multiplexer"), WebsocketMultiplexer):
            raise SendNotAvailableOnDemultiplexer(
                f"{type(self).__name__} runs behind a WebsocketDemultiplexer: send through "
                "the multiplexer it was given (kwargs['multiplexer'].send(payload))"
            )

    def message_reply(self, content: dict[str, Any]) -> None:
        """Send ``content`` on the socket's reply channel."""
        reply = self.message.reply_channel
        if reply is None:
            raise ValueError(
                f"The message on {self.message.channel.name!r} has no reply_channel to send to"
            )
        reply.send(content)

    def send(
        self, text: str | None = None, bytes: bytes | None = None, close: bool | int = False
    ) -> None:
        """Send a frame (``text`` or ``bytes``), optionally closing the socket after it.

        ``send(close=True)`` alone closes the socket (1.x required a frame).

        Raises:
            ValueError: both ``text`` and ``bytes``, or nothing at all, were given.
            SendNotAvailableOnDemultiplexer: the consumer runs behind a demultiplexer.
        """
        self._check_not_demultiplexed()
        self.message_reply(self.encode_frame(text, bytes, close))

    def close(self, status: bool | int = True) -> None:
        """Close the socket (``True`` = 1000, or a close code)."""
        self.message_reply({"close": status})

    @staticmethod
    def encode_frame(
        text: str | None = None, bytes: bytes | None = None, close: bool | int = False
    ) -> dict[str, Any]:
        """The reply message for a frame and/or a close.

        Raises:
            ValueError: both ``text`` and ``bytes``, or nothing at all, were given, or
                ``close`` is not a bool or a close code.
            TypeError: ``text`` is not a str or ``bytes`` not bytes.
        """
        if text is not None and bytes is not None:
            raise ValueError("Send either text or bytes in one frame, not both")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        if bytes is not None and not isinstance(bytes, (bytes_type, bytearray)):
            raise TypeError(f"bytes must be bytes, not {type(bytes).__name__}")
        if not isinstance(close, bool_type) and (
            not isinstance(close, int) or not 1000 <= close <= 4999
        ):
            raise ValueError(f"close must be True/False or a close code 1000-4999, not {close!r}")
        content: dict[str, Any] = {}
        if text is not None:
            content["text"] = text
        elif bytes is not None:
            content["bytes"] = bytes
        elif not close:
            raise ValueError("Nothing to send: give text, bytes or close")
        if close:
            content["close"] = close
        return content

    @classmethod
    def group_send(
        cls,
        name: str,
        text: str | None = None,
        bytes: bytes | None = None,
        close: bool | int = False,
    ) -> None:
        """Send a frame (and/or a close) to every socket in group ``name``."""
        Group(name).send(cls.encode_frame(text, bytes, close))


class JsonWebsocketConsumer(WebsocketConsumer):
    """A WebSocket consumer that receives and sends JSON documents.

    A text frame that is not JSON is logged and the socket is closed with 1007; a binary frame
    is logged and closed with 1003 (override :meth:`receive_invalid` to do otherwise).  The
    worker is never disturbed by what a client sends.
    """

    def raw_receive(self, message: Message, **kwargs: Any) -> None:
        """Decode the text frame and call :meth:`receive` with the document."""
        text = message.content.get("text")
        if not isinstance(text, str):
            self.receive_invalid(
                "binary frame received, JSON text frames expected", CLOSE_UNSUPPORTED_DATA,
                **kwargs,
            )
            return
        try:
            content = self.decode_json(text)
        except ValueError as exc:
            self.receive_invalid(f"frame is not valid JSON ({exc})", CLOSE_INVALID_PAYLOAD,
                                 **kwargs)
            return
        self.receive(content, **kwargs)

    def receive(self, content: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        """Called with each decoded JSON document.  Override it."""

    def receive_invalid(self, reason: str, close_code: int, **kwargs: Any) -> None:
        """Called for a frame that is not a JSON text frame: logs it and closes the socket."""
        logger.warning(
            "%s: %s on %s; closing the socket with %d",
            type(self).__name__, reason, self.path, close_code,
        )
        self.close(status=close_code)

    def send(self, content: Any, close: bool | int = False) -> None:  # type: ignore[override]
        """Send ``content`` as a JSON text frame, optionally closing the socket after it."""
        self._check_not_demultiplexed()
        self.message_reply(self.encode_frame(self.encode_json(content), None, close))

    @classmethod
    def group_send(  # type: ignore[override]
        cls, name: str, content: Any, close: bool | int = False
    ) -> None:
        """Send ``content`` as JSON to every socket in group ``name``."""
        Group(name).send(cls.encode_frame(cls.encode_json(content), None, close))

    @classmethod
    def decode_json(cls, text: str) -> Any:
        """Parse a frame (override for another decoder).  Raises ``ValueError`` if invalid."""
        return json.loads(text)

    @classmethod
    def encode_json(cls, content: Any) -> str:
        """Serialize a document; dates, decimals and UUIDs are handled (DjangoJSONEncoder)."""
        return json.dumps(content, cls=DjangoJSONEncoder)


class WebsocketMultiplexer:
    """Sends ``{"stream": stream, "payload": payload}`` frames to one socket."""

    def __init__(self, stream: str, reply_channel: Channel) -> None:
        self.stream = stream
        self.reply_channel = reply_channel

    def send(self, payload: Any) -> None:
        """Send ``payload`` on this stream."""
        self.reply_channel.send(self.encode(self.stream, payload))

    def close(self, status: bool | int = True) -> None:
        """Close the whole socket (all streams)."""
        self.reply_channel.send({"close": status})

    @classmethod
    def encode_json(cls, content: Any) -> str:
        """Serialize with ``DjangoJSONEncoder``."""
        return json.dumps(content, cls=DjangoJSONEncoder)

    @classmethod
    def encode(cls, stream: str, payload: Any) -> dict[str, Any]:
        """The reply message carrying ``payload`` on ``stream``."""
        return {"text": cls.encode_json({"stream": stream, "payload": payload})}

    @classmethod
    def group_send(cls, name: str, stream: str, payload: Any, close: bool | int = False) -> None:
        """Send ``payload`` on ``stream`` to every socket in group ``name``."""
        content = cls.encode(stream, payload)
        if close:
            content["close"] = close
        Group(name).send(content)


class WebsocketDemultiplexer(JsonWebsocketConsumer):
    """Routes the streams of one socket to one consumer class each.

    ``consumers = {"stream name": ConsumerClass}``.  Connect and disconnect go to every
    consumer; a frame ``{"stream": name, "payload": {...}}`` goes to that stream's consumer
    with the payload as its text.  Each consumer is called with ``multiplexer=`` a
    :class:`WebsocketMultiplexer` for its stream, which it uses to reply.  Frames that are not
    of that shape, or name an unknown stream, are logged and ignored (the socket stays open).
    """

    consumers: ClassVar[dict[str, Any]] = {}
    multiplexer_class: ClassVar[type[WebsocketMultiplexer]] = WebsocketMultiplexer

    def _multiplexer(self, stream: str) -> WebsocketMultiplexer:
        assert self.message.reply_channel is not None  # WebSocket messages always have one
        return self.multiplexer_class(stream, self.message.reply_channel)

    def connect(self, message: Message, **kwargs: Any) -> None:
        """Accept, then pass the connect to every stream's consumer."""
        self.message_reply({"accept": True})
        for stream, consumer in self.consumers.items():
            consumer(message, **{**kwargs, "multiplexer": self._multiplexer(stream)})

    def receive(self, content: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        """Pass the frame's payload to its stream's consumer."""
        if not isinstance(content, dict) or not isinstance(content.get("stream"), str):
            logger.warning(
                "%s on %s: frame is not {\"stream\": ..., \"payload\": {...}}; ignored",
                type(self).__name__, self.path,
            )
            return
        stream = content["stream"]
        payload = content.get("payload")
        if not isinstance(payload, dict):
            logger.warning(
                "%s on %s: payload of stream %r is not a JSON object; ignored",
                type(self).__name__, self.path, stream,
            )
            return
        consumer = self.consumers.get(stream)
        if consumer is None:
            logger.warning(
                "%s on %s: no consumer for stream %r (known: %s); ignored",
                type(self).__name__, self.path, stream, ", ".join(sorted(self.consumers)),
            )
            return
        # The stream's consumer reads the payload as the frame's text, as in 1.x.
        self.message.content["text"] = self.encode_json(payload)
        consumer(self.message, **{**kwargs, "multiplexer": self._multiplexer(stream)})

    def disconnect(self, message: Message, **kwargs: Any) -> None:
        """Pass the disconnect to every stream's consumer."""
        for stream, consumer in self.consumers.items():
            consumer(message, **{**kwargs, "multiplexer": self._multiplexer(stream)})

    def send(self, *args: Any, **kwargs: Any) -> None:
        """Not available: which stream would it go to?  Use a multiplexer."""
        raise SendNotAvailableOnDemultiplexer(
            "A WebsocketDemultiplexer cannot send; use the stream's multiplexer "
            "(WebsocketMultiplexer(stream, reply_channel).send(payload))"
        )

    @classmethod
    def group_send(cls, *args: Any, **kwargs: Any) -> None:
        """Not available; use ``WebsocketMultiplexer.group_send(name, stream, payload)``."""
        raise SendNotAvailableOnDemultiplexer(
            "A WebsocketDemultiplexer cannot group_send; use "
            "WebsocketMultiplexer.group_send(name, stream, payload)"
        )
