"""``http.request`` messages → Django ``HttpRequest`` objects.

Theory of operation
    Turning a message into a request is split in two:

    * :func:`parse_request_message` checks every key of the ASGI 1.0 ``http.request`` message
      and returns a frozen :class:`RequestInfo`; :func:`build_meta` and :func:`split_path` turn
      that into the WSGI-style ``META`` dict.  All three are pure: no channel layer, no settings
      beyond ``FORCE_SCRIPT_NAME``, and a malformed message raises :class:`BadRequestMessage`
      (the handler answers 400 and logs it).
    * The body: ``body`` is the start of it; when the message also names a ``body_channel``,
      the rest arrives there in chunks.  The constructor never touches the channel layer:
      :meth:`AsgiRequest.load_body` reads the chunks (the handler calls it right after building
      the request, so a timeout or an aborted upload becomes a 408 or no response instead of
      an error inside a view).  A request built by other code loads its body on first read.

    The body is then Django's ordinary request stream (``_stream``): ``request.body`` applies
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and raises ``RequestDataTooBig`` exactly as under WSGI, and
    multipart uploads go through ``FILE_UPLOAD_HANDLERS``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest, QueryDict, parse_cookie
from django.utils.functional import cached_property

from channels_classic.exceptions import ResponseLater
from channels_classic.layers.validation import validate_channel_name

from . import conf
from .body import receive_body
from .errors import BadRequestMessage

__all__ = [
    "AsgiRequest",
    "BadRequestMessage",
    "RequestInfo",
    "build_meta",
    "parse_request_message",
    "split_path",
]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The checked contents of an ``http.request`` message.

    Attributes:
        method: upper-cased request method.
        path: the full, percent-decoded path.
        root_path: the mount point the interface server reported ("" if none).
        query_string: the raw query string, decoded as UTF-8 (still percent-encoded).
        scheme: ``"http"``, ``"https"``... (``"http"`` when absent).
        http_version: ``"1.0"``, ``"1.1"`` or ``"2"``.
        headers: ``(name, value)`` pairs in order; names lower-cased, both latin-1 text.
        body: the start of the body.
        body_channel: where the rest of the body arrives, or None.
        client: ``(host, port)`` of the peer, or None (e.g. a UNIX socket).
        server: ``(host, port)`` the request arrived on, or None.
        reply_channel: where the response goes, or None.
    """

    method: str
    path: str
    root_path: str = ""
    query_string: str = ""
    scheme: str = "http"
    http_version: str = "1.1"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_channel: str | None = None
    client: tuple[str, int] | None = None
    server: tuple[str, int] | None = None
    reply_channel: str | None = None


def _text(content: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """A unicode value; bytes are accepted when they are UTF-8 (pre-1.0 adapters sent them)."""
    value = content.get(key)
    if value is None:
        if default is None:
            raise BadRequestMessage(f"http.request message has no {key!r}")
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestMessage(f"{key!r} is not valid UTF-8: {value[:60]!r}") from None
    raise BadRequestMessage(f"{key!r} must be a string, not {type(value).__name__}")


def _latin1(value: object, what: str) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    raise BadRequestMessage(f"{what} must be bytes, not {type(value).__name__}")


def _headers(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    # Channels 1.x accepted (and its test client sent) a plain {name: value} dict.
    if isinstance(raw, Mapping):
        items: Any = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        raise BadRequestMessage(
            f"'headers' must be a list of [name, value] pairs, not {type(raw).__name__}"
        )
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise BadRequestMessage(f"headers[{index}] must be a [name, value] pair: {item!r}")
        name = _latin1(item[0], f"headers[{index}] name").lower()
        value = _latin1(item[1], f"headers[{index}] value")
        pairs.append((name, value))
    return tuple(pairs)


def _address(content: Mapping[str, Any], key: str) -> tuple[str, int] | None:
    value = content.get(key)
    if value is None:
        return None
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    ):
        return value[0], value[1]
    raise BadRequestMessage(f"{key!r} must be [host, port] (str, int) or None, not {value!r}")


def parse_request_message(content: object) -> RequestInfo:
    """Check an ``http.request`` message and return its contents.

    Optional keys get the spec's defaults.  ``headers`` may also be a ``{name: value}`` dict
    (Channels 1.x's old style).

    Raises:
        BadRequestMessage: a required key is missing, or a key has the wrong type, or the query
            string is not UTF-8.
    """
    if not isinstance(content, Mapping):
        raise BadRequestMessage(f"http.request message must be a dict, not {type(content)}")
    method = _text(content, "method")
    if not method or any(char.isspace() for char in method):
        raise BadRequestMessage(f"'method' is not a request method: {method!r}")
    body = content.get("body")
    if body is None:
        body = b""
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise BadRequestMessage(f"'body' must be bytes, not {type(body).__name__}")
    body_channel = content.get("body_channel")
    if body_channel is not None:
        try:
            validate_channel_name(body_channel)
        except TypeError as exc:
            raise BadRequestMessage(f"'body_channel' is not a channel name: {exc}") from None
    reply_channel = content.get("reply_channel")
    if reply_channel is not None and not isinstance(reply_channel, str):
        raise BadRequestMessage(
            f"'reply_channel' must be a str, not {type(reply_channel).__name__}"
        )
    return RequestInfo(
        method=method.upper(),
        path=_text(content, "path"),
        root_path=_text(content, "root_path", ""),
        query_string=_text(content, "query_string", ""),
        scheme=_text(content, "scheme", "") or "http",
        http_version=_text(content, "http_version", "") or "1.1",
        headers=_headers(content.get("headers")),
        body=body,
        body_channel=body_channel,
        client=_address(content, "client"),
        server=_address(content, "server"),
        reply_channel=reply_channel,
    )


def split_path(path: str, script_name: str) -> tuple[str, str]:
    """Split ``path`` into ``(SCRIPT_NAME, PATH_INFO)``.

    ``script_name`` is removed only as a whole path prefix: ``/app`` is stripped from
    ``/app`` and ``/app/x`` but not from ``/application``, which is passed on whole.  A
    trailing slash on ``script_name`` is ignored, and an empty ``PATH_INFO`` becomes ``/``
    (as Django does under WSGI).
    """
    root = script_name.rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return root, path[len(root):] or "/"
    return root, path or "/"


# Headers whose repeats must not be joined with "," because "," is part of their syntax.
_JOINERS = {"HTTP_COOKIE": "; "}


def build_meta(info: RequestInfo, script_name: str, path_info: str) -> dict[str, Any]:
    """The ``request.META`` dict for a request (WSGI names, as Django expects).

    Header names become ``HTTP_*`` (``CONTENT_TYPE``/``CONTENT_LENGTH`` without the prefix);
    repeated headers are joined with ``","`` in order (cookies with ``"; "``).  Names containing
    ``_`` are dropped, as Django's own handlers do, so ``X_Forwarded_For`` cannot pose as
    ``X-Forwarded-For``.
    """
    meta: dict[str, Any] = {
        "REQUEST_METHOD": info.method,
        "QUERY_STRING": info.query_string,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "SERVER_PROTOCOL": f"HTTP/{info.http_version}",
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
    }
    if info.client is not None:
        meta["REMOTE_ADDR"] = info.client[0]
        meta["REMOTE_HOST"] = info.client[0]
        meta["REMOTE_PORT"] = info.client[1]
    if info.server is not None:
        meta["SERVER_NAME"] = info.server[0]
        meta["SERVER_PORT"] = str(info.server[1])
    else:
        meta["SERVER_NAME"] = "unknown"
        meta["SERVER_PORT"] = "0"
    collected: dict[str, list[str]] = {}
    for name, value in info.headers:
        if "_" in name:
            continue
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        collected.setdefault(key, []).append(value)
    for key, values in collected.items():
        meta[key] = _JOINERS.get(key, ",").join(values)
    return meta


def _message_parts(message: Any) -> tuple[Mapping[str, Any], Any, Any]:
    """``(content, channel layer, reply Channel)`` from a Message (or a bare dict)."""
    content = getattr(message, "content", message)
    return content, getattr(message, "channel_layer", None), getattr(message, "reply_channel", None)


class AsgiRequest(HttpRequest):
    """A Django ``HttpRequest`` built from an ASGI ``http.request`` message.

    Args:
        message: the :class:`~channels_classic.message.Message` (a bare content dict also
            works when the body has no ``body_channel``).

    Raises:
        BadRequestMessage: the message is malformed (see :func:`parse_request_message`).

    Besides Django's attributes it has ``message``, ``reply_channel`` and ``script_name``.
    """

    #: 1.x spelling: ``raise request.ResponseLater()`` works too.
    ResponseLater = ResponseLater
    #: Seconds to read a chunked body; None uses ``CHANNELS_HTTP_BODY_TIMEOUT`` (default 60).
    body_receive_timeout: float | None = None

    def __init__(self, message: Any) -> None:
        content, layer, reply_channel = _message_parts(message)
        info = parse_request_message(content)
        # HttpRequest.__init__ is not called, as in Django's WSGIRequest/ASGIRequest: every
        # attribute it would set is set here or provided lazily.
        self.message = message
        self.reply_channel = reply_channel
        self._info = info
        self._channel_layer = layer
        self._read_started = False
        self.resolver_match = None
        forced = settings.FORCE_SCRIPT_NAME
        self.script_name, self.path_info = split_path(
            info.path, forced if forced is not None else info.root_path
        )
        self.path = info.path
        self.method = info.method
        self.META = build_meta(info, self.script_name, self.path_info)
        self._set_content_type_params(self.META)
        self._body_pending = info.body_channel is not None
        self._body_file: IO[bytes] | None = None if self._body_pending else io.BytesIO(info.body)

    # -- body -------------------------------------------------------------------------

    def load_body(self) -> None:
        """Read the rest of the body from ``body_channel`` if it has not been read yet.

        Blocks the calling worker thread until the last chunk arrives.

        Raises:
            RequestTimeout: the body took longer than the body timeout.
            RequestAborted: the client went away (a ``closed`` chunk).
            BadRequestMessage: a chunk is malformed, or there is no layer to read from.
        """
        if not self._body_pending:
            return
        if self._channel_layer is None:
            raise BadRequestMessage(
                "The request has a body_channel but was built without a channel layer; "
                "pass the Message, not its content"
            )
        timeout = self.body_receive_timeout or conf.body_timeout()
        assert self._info.body_channel is not None
        self._body_file = receive_body(
            self._channel_layer,
            self._info.body_channel,
            self._info.body,
            timeout=timeout,
            spool_size=conf.body_spool_size(),
        )
        self._body_pending = False

    @property
    def _stream(self) -> IO[bytes]:
        # Django's read()/body/multipart parser all read through _stream; loading here keeps
        # a request built outside AsgiHandler working.
        self.load_body()
        assert self._body_file is not None
        return self._body_file

    @_stream.setter
    def _stream(self, value: IO[bytes]) -> None:
        # Django replaces the stream with a BytesIO of request.body once it has read it.
        self._body_file = value
        self._body_pending = False

    def close(self) -> None:
        """Close uploaded files and the spooled body (Django calls it after the response)."""
        super().close()
        if self._body_file is not None:
            self._body_file.close()

    # -- the lazily built dicts ---------------------------------------------------------------

    def _get_scheme(self) -> str:
        return self._info.scheme

    @cached_property
    def GET(self) -> QueryDict:  # noqa: N802 - Django's name
        return QueryDict(self.META["QUERY_STRING"], encoding=self._encoding)

    @cached_property
    def COOKIES(self) -> dict[str, str]:  # noqa: N802
        cookies: dict[str, str] = parse_cookie(self.META.get("HTTP_COOKIE", ""))
        return cookies

    def _get_post(self) -> QueryDict:
        if not hasattr(self, "_post"):
            self._load_post_and_files()
        return self._post

    def _set_post(self, post: QueryDict) -> None:
        self._post = post

    def _get_files(self) -> Any:
        if not hasattr(self, "_files"):
            self._load_post_and_files()
        return self._files

    POST = property(_get_post, _set_post)
    FILES = property(_get_files)
