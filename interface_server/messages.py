"""ASGI 1.0 message shapes at the server's boundary, and pure functions to build and check them.

Inbound (server → app) messages are built here from already-parsed request data: the
functions never see a socket.  Outbound (app → server) reply messages are checked here and
turned into small frozen value objects, so the protocol adapters only deal with validated data.

Rules worth knowing (ASGI 1.0, ``docs/asgi/www.rst``):

* ``path`` is percent-decoded and UTF-8 decoded; ``query_string`` stays raw bytes.
* header names are lower-cased bytes, values bytes, order and duplicates kept; names with
  ``_`` are dropped (they would collide with ``-`` names in WSGI ``META``: CVE-2015-0219).
* ``root_path`` is text for HTTP and for WebSocket (the spec text said bytes for WebSocket).
* ``websocket.receive`` carries exactly one of ``text``/``bytes``: the other key is absent, as
  Channels 1.x consumers test ``"text" in message``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from .errors import ClientError, InvalidReply

__all__ = [
    "HttpDisconnect",
    "HttpRequest",
    "HttpResponse",
    "RequestBodyChunk",
    "ResponseChunk",
    "ResponseStart",
    "WebSocketConnect",
    "WebSocketDisconnect",
    "WebSocketReceive",
    "WsReply",
    "build_http_request",
    "build_websocket_connect",
    "clean_headers",
    "parse_http_reply",
    "parse_ws_reply",
    "split_target",
]

logger = logging.getLogger("interface_server.messages")

Header = list[bytes]
Address = list[Any]  # [host str, port int]

#: Header carrying a per-request root path, honoured only with ``--root-path-header``.
ROOT_PATH_HEADER = b"daphne-root-path"


class HttpRequest(TypedDict, total=False):
    """``http.request`` (server → app)."""

    reply_channel: str
    http_version: str
    method: str
    scheme: str
    path: str
    query_string: bytes
    root_path: str
    headers: list[Header]
    body: bytes
    body_channel: str
    client: Address | None
    server: Address | None


class RequestBodyChunk(TypedDict, total=False):
    """A message on ``http.request.body?...`` (server → app)."""

    content: bytes
    closed: bool
    more_content: bool


class HttpResponse(TypedDict, total=False):
    """The first reply message of an HTTP response (app → server)."""

    status: int
    headers: list[Header]
    content: bytes
    more_content: bool


class HttpDisconnect(TypedDict):
    """``http.disconnect`` (server → app): the client left before the response finished."""

    reply_channel: str
    path: str


class WebSocketConnect(TypedDict, total=False):
    """``websocket.connect`` (server → app)."""

    reply_channel: str
    scheme: str
    path: str
    query_string: bytes
    root_path: str
    headers: list[Header]
    client: Address | None
    server: Address | None
    order: int


class WebSocketReceive(TypedDict, total=False):
    """``websocket.receive`` (server → app); exactly one of ``text``/``bytes`` is present."""

    reply_channel: str
    path: str
    order: int
    text: str
    bytes: bytes


class WebSocketDisconnect(TypedDict):
    """``websocket.disconnect`` (server → app)."""

    reply_channel: str
    code: int
    path: str
    order: int


# -- inbound --------------------------------------------------------------------------------------


def split_target(target: bytes) -> tuple[str, bytes]:
    """Split a request target into ``(decoded path, raw query string)``.

    Accepts origin-form (``/a%20b?x=1``), absolute-form (``http://host/a?x=1``) and ``*``.

    Raises:
        ClientError: 400 when the percent-decoded path is not valid UTF-8.
    """
    if target == b"*":
        return "*", b""
    target = target.partition(b"#")[0]
    if target.startswith(b"/"):
        raw_path, _, query = target.partition(b"?")
    else:
        parts = urlsplit(target)
        raw_path, query = parts.path or b"/", parts.query
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise ClientError("Invalid characters in path (not UTF-8)", 400) from None
    return path, query


def clean_headers(
    raw: Iterable[tuple[bytes, bytes]],
) -> tuple[list[Header], bytes | None, int]:
    """Lower-case header names and drop the unsafe ones.

    Returns:
        ``(headers, root_path_header_value, dropped_count)``: headers as ``[name, value]``
        lists in arrival order; the ``Daphne-Root-Path`` value (always removed from the list,
        so an app never mistakes a client-sent one for a proxy's); how many names containing
        ``_`` were dropped.
    """
    headers: list[Header] = []
    root_path: bytes | None = None
    dropped = 0
    for raw_name, value in raw:
        name = raw_name.lower()
        if b"_" in name:
            dropped += 1
            continue
        if name == ROOT_PATH_HEADER:
            root_path = value
            continue
        headers.append([name, value])
    return headers, root_path, dropped


def decode_root_path(value: bytes) -> str:
    """Decode a ``Daphne-Root-Path`` header value (percent-encoded UTF-8) to text."""
    return unquote(value.decode("latin-1"), errors="replace").rstrip("/")


def build_http_request(
    *,
    reply_channel: str,
    method: bytes,
    http_version: bytes,
    path: str,
    query_string: bytes,
    headers: list[Header],
    scheme: str,
    root_path: str,
    client: Address | None,
    server: Address | None,
    body: bytes,
    body_channel: str | None,
) -> HttpRequest:
    """Build the ``http.request`` message; ``body_channel`` only when the body is streamed."""
    message: HttpRequest = {
        "reply_channel": reply_channel,
        "http_version": http_version.decode("ascii"),
        "method": method.decode("ascii").upper(),
        "scheme": scheme,
        "path": path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": headers,
        "body": body,
        "client": client,
        "server": server,
    }
    if body_channel is not None:
        message["body_channel"] = body_channel
    return message


def build_websocket_connect(
    *,
    reply_channel: str,
    path: str,
    query_string: bytes,
    headers: list[Header],
    scheme: str,
    root_path: str,
    client: Address | None,
    server: Address | None,
) -> WebSocketConnect:
    """Build ``websocket.connect`` (always with ``scheme`` and text ``root_path``)."""
    return {
        "reply_channel": reply_channel,
        "scheme": scheme,
        "path": path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
        "order": 0,
    }


def build_websocket_receive(
    reply_channel: str, path: str, order: int, payload: str | bytes
) -> WebSocketReceive:
    """Build ``websocket.receive`` with only the ``text`` or the ``bytes`` key."""
    message: WebSocketReceive = {"reply_channel": reply_channel, "path": path, "order": order}
    if isinstance(payload, str):
        message["text"] = payload
    else:
        message["bytes"] = payload
    return message


# -- outbound: HTTP -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseStart:
    """A validated Response message: the first reply of an HTTP response."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    content: bytes
    more_content: bool


@dataclass(frozen=True, slots=True)
class ResponseChunk:
    """A validated Response Chunk message."""

    content: bytes
    more_content: bool


_HTTP_REPLY_KEYS = frozenset({"status", "headers", "content", "more_content"})
_WS_REPLY_KEYS = frozenset({"bytes", "text", "close", "accept", "subprotocol"})


def _as_header_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidReply(f"Response header {what} {value!r} is not latin-1") from None
    raise InvalidReply(f"Response header {what} must be bytes, not {type(value).__name__}")


def _parse_headers(raw: object) -> tuple[tuple[bytes, bytes], ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):  # 1.x code sometimes sent a dict
        raw = list(raw.items())
    if not isinstance(raw, (list, tuple)):
        raise InvalidReply(f"Response 'headers' must be a list of pairs, not {type(raw).__name__}")
    out: list[tuple[bytes, bytes]] = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InvalidReply(f"Response header {item!r} is not a [name, value] pair")
        name = _as_header_bytes(item[0], "name").lower()
        value = _as_header_bytes(item[1], "value")
        out.append((name, value))
    return tuple(out)


def _content(message: dict[str, Any]) -> bytes:
    content = message.get("content", b"")
    if content is None:
        return b""
    if not isinstance(content, bytes):
        raise InvalidReply(f"Response 'content' must be bytes, not {type(content).__name__}")
    return content


def _flag(message: dict[str, Any], key: str) -> bool:
    value = message.get(key, False)
    if value is None:
        return False
    if not isinstance(value, (bool, int)):
        raise InvalidReply(f"'{key}' must be a bool, not {type(value).__name__}")
    return bool(value)


def unknown_keys(message: dict[str, Any], known: frozenset[str]) -> list[str]:
    """Keys of ``message`` the server does not use (debug-logged by callers, never an error)."""
    return [key for key in message if key not in known]


def parse_http_reply(message: object) -> ResponseStart | ResponseChunk:
    """Check one message from an HTTP reply channel.

    A message with ``status`` is a Response; one without is a Response Chunk.  Unknown keys are
    ignored.

    Raises:
        InvalidReply: naming the key that is wrong.
    """
    if not isinstance(message, dict):
        raise InvalidReply(f"Reply messages must be dicts, not {type(message).__name__}")
    more = _flag(message, "more_content")
    content = _content(message)
    if "status" in message:
        status = message["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise InvalidReply(f"Response 'status' must be an int from 100 to 999, not {status!r}")
        return ResponseStart(status, _parse_headers(message.get("headers")), content, more)
    return ResponseChunk(content, more)


# -- outbound: WebSocket --------------------------------------------------------------------------

#: Close codes an endpoint may put in a close frame (RFC 6455 §7.4, IANA registry).
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 1014})


def is_sendable_close_code(code: int) -> bool:
    """True if ``code`` may appear in a close frame sent on the wire."""
    return code in _SENDABLE_CLOSE_CODES or 3000 <= code <= 4999


@dataclass(frozen=True, slots=True)
class WsReply:
    """A validated Send/Close/Accept message.

    Attributes:
        accept: True/False when the message has an ``accept`` key, else None.
        data: the frame to send (``str`` → text, ``bytes`` → binary), or None.
        close: the close code to close with (``True`` → 1000), or None for no close.
        subprotocol: the subprotocol the app picked in its accept, or None.
        ignored: why the whole message must be ignored (both text and bytes), or None.
    """

    accept: bool | None
    data: str | bytes | None
    close: int | None
    subprotocol: str | None = None
    ignored: str | None = None


def parse_ws_reply(message: object) -> WsReply:
    """Check one message from a WebSocket reply channel.

    Unknown keys (``reply_channel``, ``path``, ``order``... when a consumer forwards a received
    message as it is) are ignored.  A message with both ``text`` and ``bytes`` comes back with
    ``ignored`` set, as the spec says it must be ignored as a whole.

    Raises:
        InvalidReply: a known key has the wrong type, or the close code is out of range.
    """
    if not isinstance(message, dict):
        raise InvalidReply(f"Reply messages must be dicts, not {type(message).__name__}")
    text = message.get("text")
    data_bytes = message.get("bytes")
    if text is not None and not isinstance(text, str):
        raise InvalidReply(f"'text' must be str or None, not {type(text).__name__}")
    if data_bytes is not None and not isinstance(data_bytes, bytes):
        raise InvalidReply(f"'bytes' must be bytes or None, not {type(data_bytes).__name__}")
    accept_raw = message.get("accept")
    if accept_raw is not None and not isinstance(accept_raw, (bool, int)):
        raise InvalidReply(f"'accept' must be a bool, not {type(accept_raw).__name__}")
    accept = None if accept_raw is None else bool(accept_raw)
    close_raw = message.get("close", False)
    close: int | None
    if close_raw is None or close_raw is False:
        close = None
    elif close_raw is True:
        close = 1000
    elif isinstance(close_raw, int):
        if close_raw == 0:
            close = None
        elif is_sendable_close_code(close_raw):
            close = close_raw
        else:
            raise InvalidReply(
                f"'close' code {close_raw} cannot be sent; use 1000, 1001, 1008, 1011 or "
                "3000-4999"
            )
    else:
        raise InvalidReply(f"'close' must be a bool or int, not {type(close_raw).__name__}")
    subprotocol = message.get("subprotocol")
    if subprotocol is not None and not isinstance(subprotocol, str):
        raise InvalidReply(f"'subprotocol' must be str, not {type(subprotocol).__name__}")
    if text is not None and data_bytes is not None:
        return WsReply(accept, None, close, subprotocol, ignored="both 'text' and 'bytes' set")
    data: str | bytes | None = text if text is not None else data_bytes
    return WsReply(accept, data, close, subprotocol)


def choose_subprotocol(
    offered: Sequence[str], server_protocols: Sequence[str], app_choice: str | None
) -> tuple[str | None, str | None]:
    """Pick the subprotocol for an accepted WebSocket.

    The app's choice (from its accept message) wins when the client offered it; otherwise the
    first protocol the client offered that is in the server's list.

    Returns:
        ``(subprotocol or None, warning or None)``: the warning explains an app choice that was
        not offered by the client and therefore not used.
    """
    warning = None
    if app_choice is not None:
        if app_choice in offered:
            return app_choice, None
        warning = f"app chose subprotocol {app_choice!r}, which the client did not offer"
    for protocol in offered:
        if protocol in server_protocols:
            return protocol, warning
    return None, warning


Kind = Literal["http", "websocket"]
