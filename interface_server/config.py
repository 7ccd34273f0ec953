"""One validated configuration object for the whole server.

:class:`ServerConfig` is built once (by the command line, ``runserver`` or an embedding program),
checked in ``__post_init__`` and then passed down read-only to every part of the server.  Every
limit and timeout the server enforces is a field here, with its default as a named constant so
the documentation, the CLI help and the code cannot drift apart.

Library code raises :class:`ConfigError`; only the command line turns it into an exit status.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field, fields
from urllib.parse import unquote

__all__ = [
    "DEFAULT_ADMISSION_QUEUE_LIMIT",
    "DEFAULT_ADMISSION_TIMEOUT",
    "DEFAULT_BODY_CHUNK_SIZE",
    "DEFAULT_CLOSE_HANDSHAKE_TIMEOUT",
    "DEFAULT_HTTP_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_OUTBOUND_BUFFER",
    "DEFAULT_MAX_WS_MESSAGE_SIZE",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "DEFAULT_REQUEST_HEAD_TIMEOUT",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_TRUSTED_PROXIES",
    "DEFAULT_WEBSOCKET_CONNECT_TIMEOUT",
    "DEFAULT_WEBSOCKET_TIMEOUT",
    "ConfigError",
    "ServerConfig",
    "parse_networks",
]

#: Seconds the app has to *start* a response before the client gets a 503 (Daphne 1.x CLI).
DEFAULT_HTTP_TIMEOUT = 120.0
#: Longest life of a WebSocket when the layer does not say otherwise (the spec's group_expiry).
DEFAULT_WEBSOCKET_TIMEOUT = 86400.0
#: Seconds the app has to answer ``websocket.connect`` before the handshake is refused (403).
#: Daphne's CLI said 5 and its ``Server`` said 20; one value everywhere, long enough to ride out
#: a short queue in front of the workers (django/channels#725).
DEFAULT_WEBSOCKET_CONNECT_TIMEOUT = 20.0
#: Seconds of *inbound* silence before the server pings a WebSocket client.
DEFAULT_PING_INTERVAL = 20.0
#: Seconds a pinged client has to send anything back before the socket is dropped.
DEFAULT_PING_TIMEOUT = 30.0
#: Seconds after the server's close frame before an unanswered close handshake is cut.
DEFAULT_CLOSE_HANDSHAKE_TIMEOUT = 5.0
#: Seconds a client has to finish a request head (request line + headers) once it started it:
#: the slow-loris guard.  Also the WebSocket opening-handshake timeout (Daphne's name for it).
DEFAULT_REQUEST_HEAD_TIMEOUT = 10.0
#: Seconds a connection may stay silent while the server waits for the client (an idle
#: keep-alive connection, a stalled upload).
DEFAULT_IDLE_TIMEOUT = 60.0
#: Seconds a SIGTERM'd server lets in-flight responses finish before cutting them.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0

#: Bytes of request line + headers accepted before answering 431 (h11's and Twisted's value).
DEFAULT_MAX_HEADER_SIZE = 16 * 1024
#: Header lines accepted before answering 431.
DEFAULT_MAX_HEADER_COUNT = 100
#: Largest request body accepted before answering 413.
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
#: Bodies up to this size travel inside ``http.request``; larger ones are streamed over a
#: ``body_channel`` in chunks of this size.  Half the layer's 1 MB message limit, leaving room
#: for the headers that share the first message.
DEFAULT_BODY_CHUNK_SIZE = 512 * 1024
#: Largest WebSocket message (after reassembly of fragments) before closing with 1009.  Also the
#: largest frame (current Daphne uses the same 1 MiB).
DEFAULT_MAX_WS_MESSAGE_SIZE = 1024 * 1024
#: Bytes the server holds for one connection whose client is not reading; past it the
#: connection is closed (1013 for a WebSocket, dropped for HTTP).  On top of the kernel's and
#: Twisted's own ~64 KiB transport buffer.
DEFAULT_MAX_OUTBOUND_BUFFER = 4 * 1024 * 1024
#: Seconds an inbound message may wait for room on a full channel before the client gets a
#: 503 (HTTP, WebSocket handshake) or a 1013 close (WebSocket frames).
DEFAULT_ADMISSION_TIMEOUT = 10.0
#: Messages that may wait for room on full channels, over all channels, before new ones are
#: refused at once.  Bounds the memory used by admission queues.
DEFAULT_ADMISSION_QUEUE_LIMIT = 10_000
#: Proxies trusted by ``--proxy-headers`` when ``--proxy-headers-trusted`` is not given.
DEFAULT_TRUSTED_PROXIES: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which one and what to use instead."""


def parse_networks(values: tuple[str, ...] | list[str]) -> tuple[Network, ...]:
    """Parse addresses and CIDR blocks (``10.0.0.0/8``, ``::1``, ``unix``) into networks.

    The special value ``*`` trusts every peer; ``unix`` is accepted and ignored here because
    UNIX-socket peers are always trusted (see :mod:`interface_server.proxy`).

    Raises:
        ConfigError: naming the entry that is neither an address nor a network.
    """
    networks: list[Network] = []
    for raw in values:
        for part in str(raw).split(","):
            item = part.strip()
            if not item or item == "unix":
                continue
            if item == "*":
                networks.extend(
                    [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
                )
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ConfigError(
                    f"--proxy-headers-trusted: {item!r} is not an IP address or CIDR block "
                    "(e.g. 10.0.0.0/8 or 127.0.0.1)"
                ) from None
    return tuple(networks)


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, not {value!r}")


def _positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, not {value!r}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to know, validated once.

    Attributes:
        endpoints: Twisted server endpoint strings (``tcp:8000:interface=127.0.0.1``,
            ``unix:/run/app.sock``, ``ssl:443:privateKey=k.pem:certKey=c.pem``...); see
            :func:`interface_server.endpoints.build_endpoint_description_strings`.
        http_timeout: seconds the app has to start a response before a 503; ``None`` = no limit.
            A response that has started is never cut by it.
        websocket_timeout: longest life of a WebSocket (closed with 1000); ``None`` = no limit.
        websocket_connect_timeout: seconds the app has to accept or reject a WebSocket.
        ping_interval: seconds of inbound silence before pinging a WebSocket client.
        ping_timeout: seconds a pinged client has to answer before the socket is dropped.
        close_handshake_timeout: seconds to wait for the client's close frame after ours.
        request_head_timeout: seconds to receive a whole request head once it has started.
        idle_timeout: seconds of client silence tolerated while waiting for the client.
        shutdown_timeout: grace period for in-flight responses on SIGTERM.
        ws_protocols: subprotocols the server may choose, in preference order.
        root_path: ASGI ``root_path`` (text; percent-escapes are decoded).
        root_path_header: honour the ``Daphne-Root-Path`` request header (off: it is dropped).
        proxy_headers: honour ``X-Forwarded-For/-Port/-Proto`` from trusted proxies.
        trusted_proxies: networks whose forwarding headers are believed.
        max_header_size: bytes of request line + headers before 431.
        max_header_count: header lines before 431.
        max_body_size: request body bytes before 413; 0 = no limit.
        body_chunk_size: inline-body threshold and streaming chunk size.
        max_ws_message_size: WebSocket message/frame bytes before a 1009 close.
        max_outbound_buffer: bytes held for a slow client before its connection is closed.
        admission_timeout: seconds an inbound message may wait for channel room (0 = refuse
            at once, like Daphne 1.x).
        admission_queue_limit: messages that may wait for room, over all channels.
        reader_batch: messages taken from the process channel per wake-up.
        server_name: value of the ``Server`` header on WebSocket handshakes ("" = none).
    """

    endpoints: tuple[str, ...] = ("tcp:port=8000:interface=127.0.0.1",)
    http_timeout: float | None = DEFAULT_HTTP_TIMEOUT
    websocket_timeout: float | None = DEFAULT_WEBSOCKET_TIMEOUT
    websocket_connect_timeout: float = DEFAULT_WEBSOCKET_CONNECT_TIMEOUT
    ping_interval: float = DEFAULT_PING_INTERVAL
    ping_timeout: float = DEFAULT_PING_TIMEOUT
    close_handshake_timeout: float = DEFAULT_CLOSE_HANDSHAKE_TIMEOUT
    request_head_timeout: float = DEFAULT_REQUEST_HEAD_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    ws_protocols: tuple[str, ...] = ()
    root_path: str = ""
    root_path_header: bool = False
    proxy_headers: bool = False
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: parse_networks(DEFAULT_TRUSTED_PROXIES)
    )
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_header_count: int = DEFAULT_MAX_HEADER_COUNT
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    body_chunk_size: int = DEFAULT_BODY_CHUNK_SIZE
    max_ws_message_size: int = DEFAULT_MAX_WS_MESSAGE_SIZE
    max_outbound_buffer: int = DEFAULT_MAX_OUTBOUND_BUFFER
    admission_timeout: float = DEFAULT_ADMISSION_TIMEOUT
    admission_queue_limit: int = DEFAULT_ADMISSION_QUEUE_LIMIT
    reader_batch: int = 100
    server_name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.endpoints, str):
            raise ConfigError("endpoints must be a sequence of endpoint strings, not one string")
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        if not self.endpoints:
            raise ConfigError("at least one endpoint is needed (e.g. tcp:port=8000)")
        for endpoint in self.endpoints:
            if not isinstance(endpoint, str) or not endpoint:
                raise ConfigError(f"endpoint strings must be non-empty str, not {endpoint!r}")
        for name in ("http_timeout", "websocket_timeout"):
            value = getattr(self, name)
            if value is not None:
                _positive(name, value)
        for name in (
            "websocket_connect_timeout",
            "ping_interval",
            "ping_timeout",
            "close_handshake_timeout",
            "request_head_timeout",
            "idle_timeout",
        ):
            _positive(name, getattr(self, name))
        _positive("shutdown_timeout", self.shutdown_timeout, allow_zero=True)
        _positive("admission_timeout", self.admission_timeout, allow_zero=True)
        for name in (
            "max_header_size",
            "max_header_count",
            "body_chunk_size",
            "max_ws_message_size",
            "max_outbound_buffer",
            "admission_queue_limit",
            "reader_batch",
        ):
            _positive_int(name, getattr(self, name))
        if isinstance(self.max_body_size, bool) or not isinstance(self.max_body_size, int) or (
            self.max_body_size < 0
        ):
            raise ConfigError(f"max_body_size must be an integer >= 0, not {self.max_body_size!r}")
        if self.max_header_size < 1024:
            raise ConfigError("max_header_size below 1024 bytes would refuse ordinary requests")
        protocols = tuple(self.ws_protocols)
        for protocol in protocols:
            if not isinstance(protocol, str) or not protocol or any(
                ch in protocol for ch in " ,\t\r\n"
            ):
                raise ConfigError(f"invalid WebSocket subprotocol name {protocol!r}")
        object.__setattr__(self, "ws_protocols", protocols)
        if not isinstance(self.root_path, str):
            raise ConfigError(f"root_path must be str, not {type(self.root_path).__name__}")
        # Daphne 1.x passed the flag through still percent-encoded while it decoded the header;
        # both are decoded here so the app sees one form.
        object.__setattr__(self, "root_path", unquote(self.root_path).rstrip("/"))
        trusted: tuple[Network | str, ...] = tuple(self.trusted_proxies)
        if any(isinstance(item, str) for item in trusted):
            trusted = parse_networks([str(item) for item in trusted])
        object.__setattr__(self, "trusted_proxies", trusted)

    def replace(self, **changes: object) -> ServerConfig:
        """Return a copy with ``changes`` applied (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ServerConfig(**values)
