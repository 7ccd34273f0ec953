"""What every connection of a server shares: config, clock, sender, reply-channel registry.

Protocols receive one :class:`ServerContext` from the factory instead of reaching for globals;
tests build one around a ``task.Clock`` and a recording sender.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .access import ActionLogger
from .config import ServerConfig

__all__ = ["ReplyTarget", "Sender", "ServerContext", "ServerStats"]

logger = logging.getLogger("interface_server")


class ReplyTarget(Protocol):
    """Anything that owns a reply channel: it is handed every message sent to it."""

    def handle_reply(self, message: dict[str, Any]) -> None:
        """Act on one message from the app."""


class Handle(Protocol):
    """What :meth:`Sender.send` returns."""

    def cancel(self) -> None:
        """Withdraw the message if it has not reached the layer yet."""


class Sender(Protocol):
    """The part of :class:`~interface_server.layer_io.LayerSender` protocols use."""

    def send(
        self,
        channel: str,
        message: dict[str, Any],
        on_done: Callable[[BaseException | None], None] | None = None,
    ) -> Handle:
        """Queue a message; ``on_done`` reports the layer's answer."""


class Closable(Protocol):
    """A live connection, as seen by shutdown and data-loss handling."""

    def server_shutdown(self) -> None:
        """Start closing because the server stops."""

    def layer_reset(self) -> str:
        """The layer lost its data; close or fail as documented; return what was done."""


@dataclass
class ServerStats:
    """Counters kept by the protocols (see also ``LayerSender.stats``)."""

    http_requests: int = 0
    http_responses: int = 0
    http_errors: dict[int, int] = field(default_factory=dict)
    http_disconnects: int = 0
    websocket_connects: int = 0
    websocket_rejects: int = 0
    websocket_closes: dict[int, int] = field(default_factory=dict)
    unknown_replies: int = 0
    invalid_replies: int = 0
    dropped_messages: int = 0

    def count_error(self, status: int) -> None:
        """Count an error page sent with ``status``."""
        self.http_errors[status] = self.http_errors.get(status, 0) + 1

    def count_close(self, code: int) -> None:
        """Count a WebSocket that ended with ``code``."""
        self.websocket_closes[code] = self.websocket_closes.get(code, 0) + 1


@dataclass(eq=False)
class ServerContext:
    """Shared state of one server; see the module docstring.

    Attributes:
        config: the validated configuration.
        clock: ``IReactorTime`` for every timer.
        sender: queues messages to the layer.
        new_body_channel: returns a fresh ``http.request.body?...`` name.
        prefix: the server's process-channel prefix (``interface.<random>!``).
        action_logger: ``callable(protocol, action, details)`` or None.
        ws_factory: the autobahn factory WebSocket protocols are attached to.
    """

    config: ServerConfig
    clock: Any
    sender: Sender
    new_body_channel: Callable[[], str]
    prefix: str
    action_logger: ActionLogger | None = None
    ws_factory: Any = None
    stats: ServerStats = field(default_factory=ServerStats)
    replies: dict[str, ReplyTarget] = field(default_factory=dict)
    connections: set[Closable] = field(default_factory=set)
    shutting_down: bool = False
    on_connection_closed: Callable[[], None] | None = None

    def new_reply_channel(self, target: ReplyTarget) -> str:
        """Allocate a reply channel ``prefix + random`` for ``target`` and register it."""
        while True:
            # 72 random bits in channel-name characters ([A-Za-z0-9_-]); one urandom call.
            name = self.prefix + secrets.token_urlsafe(9)
            if name not in self.replies:  # a clash is astronomically unlikely; cheap to rule out
                self.replies[name] = target
                return name

    def release_reply_channel(self, name: str | None) -> None:
        """Forget a reply channel; later messages to it are counted as unknown."""
        if name is not None:
            self.replies.pop(name, None)

    def dispatch(self, channel: str, message: dict[str, Any]) -> None:
        """Hand a message from the process channel to its owner (unknown: debug log)."""
        target = self.replies.get(channel)
        if target is None:
            self.stats.unknown_replies += 1
            logger.debug("Dropping a message for %s: no such connection (any more)", channel)
            return
        target.handle_reply(message)

    def log_action(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Call the action logger; its errors are logged, never raised."""
        if self.action_logger is None:
            return
        try:
            self.action_logger(protocol, action, details)
        except Exception:
            logger.exception("Error in the action logger")

    def connection_closed(self, connection: Closable) -> None:
        """Forget a finished connection (and tell a waiting shutdown)."""
        self.connections.discard(connection)
        if self.on_connection_closed is not None:
            self.on_connection_closed()
