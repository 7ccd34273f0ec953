"""Small helpers shared by the decorators, generic consumers and test clients.

Everything here is pure: it reads message contents and never touches the layer or a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from django.http import parse_cookie

from .message import Message

__all__ = [
    "find_message",
    "header_values",
    "iter_headers",
    "message_cookies",
    "name_that_thing",
    "normalize_headers",
    "query_params",
]


def name_that_thing(thing: Any) -> str:
    """A readable dotted name for a consumer (function, class, instance or bound method)."""
    if hasattr(thing, "__self__") and hasattr(thing, "__func__"):
        owner = thing.__self__
        owner_name = owner.__name__ if isinstance(owner, type) else type(owner).__name__
        return f"{owner.__module__}.{owner_name}.{thing.__func__.__name__}"
    if hasattr(thing, "__qualname__") and hasattr(thing, "__module__"):
        return f"{thing.__module__}.{thing.__qualname__}"
    return f"{type(thing).__module__}.{type(thing).__qualname__}"


def find_message(args: Sequence[Any], decorator: str) -> Message:
    """Return the :class:`Message` among the first two positional arguments.

    Consumer decorators work on plain functions (``consumer(message)``) and on methods
    (``consumer(self, message)``), so the message is the first or the second argument.

    Raises:
        TypeError: neither of the first two arguments is a Message.
    """
    for candidate in args[:2]:
        if isinstance(candidate, Message):
            return candidate
    raise TypeError(
        f"@{decorator} needs the Message as the first or second positional argument of the "
        f"consumer (got {', '.join(type(arg).__name__ for arg in args[:2]) or 'no arguments'})"
    )


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # Header names and values are latin-1 on the wire (RFC 7230 "obs-text").
        return value.encode("latin-1")
    raise TypeError(f"Header {what} must be bytes or str, not {type(value).__name__}")


def normalize_headers(headers: Any) -> list[list[bytes]]:
    """Headers as the ASGI list of ``[name, value]`` byte pairs, names lower-cased.

    Accepts that list (of lists or tuples, bytes or str), or a ``{name: value}`` dict as
    Channels 1.x test clients and old interface servers used.

    Raises:
        TypeError: an entry is not a pair of bytes/str.
    """
    if headers is None:
        return []
    pairs: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    result: list[list[bytes]] = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"Each header must be a [name, value] pair, not {pair!r}")
        result.append([_as_bytes(pair[0], "names").lower(), _as_bytes(pair[1], "values")])
    return result


def iter_headers(content: Mapping[str, Any]) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(lower-cased name, value)`` for each header of a message, skipping junk.

    A malformed ``headers`` entry is skipped rather than raised: this reads what a client
    sent, and one bad header must not make the whole message unreadable.
    """
    headers = content.get("headers")
    if not headers:
        return
    pairs: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    if isinstance(pairs, (str, bytes)):
        return
    for pair in pairs:
        try:
            name, value = pair
            yield _as_bytes(name, "names").lower(), _as_bytes(value, "values")
        except (TypeError, ValueError):
            continue


def header_values(content: Mapping[str, Any], name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lower-case bytes) in a message, in order."""
    return [value for key, value in iter_headers(content) if key == name]


def message_cookies(content: Mapping[str, Any]) -> dict[str, str]:
    """Cookies from the message's ``cookie`` header(s), parsed as Django parses them."""
    cookies: dict[str, str] = {}
    for value in header_values(content, b"cookie"):
        cookies.update(parse_cookie(value.decode("latin-1")))
    return cookies


def query_params(content: Mapping[str, Any]) -> dict[str, list[str]]:
    """The message's ``query_string`` (bytes, or str from old clients) parsed into lists."""
    raw = content.get("query_string") or b""
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    if not isinstance(raw, str):
        return {}
    return parse_qs(raw, keep_blank_values=True)
