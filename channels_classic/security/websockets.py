"""Origin validation for WebSocket connections.

Browsers send an ``Origin`` header with every WebSocket handshake, and unlike XHR nothing
stops a page on another site from opening a socket to yours with the user's cookies.  Decorate
the ``websocket.connect`` consumer::

    from channels_classic.security.websockets import allowed_hosts_only

    @allowed_hosts_only
    def ws_connect(message):
        ...

A connection whose origin is missing, empty, ``null`` (sandboxed frames, ``file:`` pages,
some redirects) or not ASCII is refused with :class:`~channels_classic.exceptions.DenyConnection`
(the handshake is answered 403) and a log line.  Other messages (receive, disconnect) pass
through: they carry no headers, and the origin was checked when the socket connected.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.http.request import validate_host

from ..exceptions import DenyConnection
from ..message import Message
from ..utils import find_message, header_values

__all__ = ["AllowedHostsOnlyOriginValidator", "BaseOriginValidator", "allowed_hosts_only"]

logger = logging.getLogger("channels_classic.security")

#: Hosts allowed when ``DEBUG`` is on and ``ALLOWED_HOSTS`` is empty (as Django does).
DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


class BaseOriginValidator:
    """Decorator base: refuse a WebSocket connect unless :meth:`validate_origin` says yes.

    Works on consumer functions and methods.  Subclasses implement :meth:`validate_origin`.
    """

    def __init__(self, func: Any) -> None:
        functools.update_wrapper(self, func)
        self.func = func

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # Decorating a method: bind like a function would.
        if instance is None:
            return self
        return functools.partial(self.__call__, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        message = find_message(args, type(self).__name__)
        if message.channel.name == "websocket.connect":
            origin = self.get_origin(message)
            if not self.validate_origin(message, origin):
                logger.warning(
                    "WebSocket %s refused: origin %r is not allowed",
                    message.content.get("path"), origin,
                )
                raise DenyConnection()
        return self.func(*args, **kwargs)

    def get_origin(self, message: Message) -> str:
        """The ``Origin`` header as text.

        Raises:
            DenyConnection: there is no usable origin (missing, empty, several, not ASCII).
        """
        values = header_values(message.content, b"origin")
        if len(values) != 1 or not values[0].strip():
            logger.warning(
                "WebSocket %s refused: %s Origin header",
                message.content.get("path"), "no" if not values else "an empty or repeated",
            )
            raise DenyConnection()
        try:
            return values[0].decode("ascii").strip()
        except UnicodeDecodeError:
            logger.warning(
                "WebSocket %s refused: the Origin header is not ASCII",
                message.content.get("path"),
            )
            raise DenyConnection() from None

    def validate_origin(self, message: Message, origin: str) -> bool:
        """Return True to let the connection through."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement validate_origin(message, origin)"
        )


class AllowedHostsOnlyOriginValidator(BaseOriginValidator):
    """Allow origins whose host is in ``ALLOWED_HOSTS`` (scheme and port are not checked).

    With ``DEBUG`` on and ``ALLOWED_HOSTS`` empty, localhost, 127.0.0.1 and [::1] are allowed.
    """

    def validate_origin(self, message: Message, origin: str) -> bool:
        """Check the origin's host name against ``ALLOWED_HOSTS``."""
        host = origin_host(origin)
        if host is None:
            return False
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = DEBUG_HOSTS
        return validate_host(host, allowed)


def origin_host(origin: str) -> str | None:
    """The host part of an origin (IPv6 in brackets, as Django writes it), or None.

    ``null`` and anything without a scheme and host give None.
    """
    if origin == "null":
        return None
    try:
        parsed = urlparse(origin)
        host = parsed.hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if not parsed.scheme or not host:
        return None
    return f"[{host}]" if ":" in host else host


#: Channels 1.x's name for the decorator.
allowed_hosts_only = AllowedHostsOnlyOriginValidator
