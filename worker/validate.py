"""Checks a received message must pass before it reaches a consumer (pure, no I/O).

A message that breaks these rules did not come from a conforming interface server: a bug, a
hand-written ``Channel.send`` or a stray tool.  The worker drops it with a log line instead of
letting a consumer crash on it, and answers the client where the ASGI format makes that safe.

Only the keys a consumer cannot work without are required; the rest are type-checked when
present, so messages from older servers or test clients that omit optional keys still pass.
"""

from __future__ import annotations

from typing import Any

from channels_classic.layers.validation import validate_channel_name

__all__ = ["bad_request_reply", "message_problem"]

_STR = (str,)
_BYTES = (bytes,)
_TEXT_OR_BYTES = (str, bytes)

#: channel -> (required keys with types, optional keys with types)
_SHAPES: dict[str, tuple[dict[str, tuple[type, ...]], dict[str, tuple[type, ...]]]] = {
    "http.request": (
        {"reply_channel": _STR, "method": _STR, "path": _STR},
        {
            "http_version": _STR,
            "scheme": _STR,
            "query_string": _TEXT_OR_BYTES,
            "root_path": _TEXT_OR_BYTES,
            "headers": (list, tuple),
            "body": _BYTES,
            "body_channel": (str, type(None)),
            "client": (list, tuple, type(None)),
            "server": (list, tuple, type(None)),
        },
    ),
    "http.disconnect": ({"reply_channel": _STR}, {"path": _STR}),
    "websocket.connect": (
        {"reply_channel": _STR, "path": _STR},
        {
            "query_string": _TEXT_OR_BYTES,
            "headers": (list, tuple),
            "order": (int,),
            "client": (list, tuple, type(None)),
            "server": (list, tuple, type(None)),
        },
    ),
    "websocket.receive": (
        {"reply_channel": _STR},
        {"path": _STR, "order": (int,), "bytes": (bytes, type(None)),
         "text": (str, type(None))},
    ),
    "websocket.disconnect": (
        {"reply_channel": _STR},
        {"path": _STR, "order": (int,), "code": (int, type(None))},
    ),
}


def message_problem(channel: str, content: Any) -> str | None:
    """Describe why ``content`` is not acceptable on ``channel``, or return None if it is."""
    if not isinstance(content, dict):
        return f"the message is a {type(content).__name__}, not a dict"
    if "reply_channel" in content:
        reply = content["reply_channel"]
        if not isinstance(reply, str):
            return f"reply_channel is a {type(reply).__name__}, not a str"
        try:
            validate_channel_name(reply)
        except TypeError as exc:
            return f"reply_channel is not a channel name ({exc})"
    shape = _SHAPES.get(channel)
    if shape is None:
        return None
    required, optional = shape
    for key, types in required.items():
        if key not in content:
            return f"required key {key!r} is missing"
        if not isinstance(content[key], types):
            return _wrong_type(key, content[key], types)
    for key, types in optional.items():
        if key in content and not isinstance(content[key], types):
            return _wrong_type(key, content[key], types)
    headers = content.get("headers")
    if headers is not None and not all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and all(isinstance(part, _TEXT_OR_BYTES) for part in pair)
        for pair in headers
    ):
        return "headers must be a list of [name, value] pairs of bytes"
    return None


def _wrong_type(key: str, value: Any, types: tuple[type, ...]) -> str:
    expected = " or ".join(t.__name__ for t in types)
    return f"{key!r} is a {type(value).__name__}, expected {expected}"


def bad_request_reply(channel: str, content: Any) -> tuple[str, dict[str, Any]] | None:
    """The answer for a malformed message whose client can still be told, if any.

    A malformed ``http.request`` with a usable reply channel gets a 400; a malformed
    ``websocket.connect`` is rejected (the server answers the handshake with 403).
    """
    if not isinstance(content, dict):
        return None
    reply = content.get("reply_channel")
    if not isinstance(reply, str):
        return None
    try:
        validate_channel_name(reply)
    except TypeError:
        return None
    if channel == "http.request":
        return reply, {
            "status": 400,
            "headers": [[b"content-type", b"text/plain; charset=utf-8"]],
            "content": b"400 Bad Request: the request could not be understood\n",
            "more_content": False,
        }
    if channel == "websocket.connect":
        return reply, {"close": True}
    return None
