"""Building http.request messages and reading http.response messages in tests."""

from __future__ import annotations

from typing import Any

from channels_classic.layers import InMemoryChannelLayer
from channels_classic.message import Message

REPLY_PREFIX = "http.response.test!"
REPLY_CHANNEL = REPLY_PREFIX + "conn1"


def request_content(path: str = "/hello/", **overrides: Any) -> dict[str, Any]:
    """A complete http.request message for ``path``; keyword arguments replace keys."""
    content: dict[str, Any] = {
        "reply_channel": REPLY_CHANNEL,
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "root_path": "",
        "headers": [[b"host", b"testserver"]],
        "body": b"",
        "client": ["127.0.0.1", 50000],
        "server": ["127.0.0.1", 8000],
    }
    content.update(overrides)
    return content


def message_for(layer: Any, content: dict[str, Any]) -> Message:
    """A Message on ``http.request`` as the worker would build it."""
    return Message(content, "http.request", layer)


def assemble(replies: list[dict[str, Any]]) -> tuple[int, list[list[bytes]], bytes]:
    """Check the reply sequence is well formed and return (status, headers, body)."""
    assert replies, "no reply messages"
    first = replies[0]
    assert isinstance(first["status"], int)
    for later in replies[1:]:
        assert "status" not in later and "headers" not in later
    for reply in replies[:-1]:
        assert reply["more_content"] is True
    assert replies[-1]["more_content"] is False
    body = b"".join(reply.get("content", b"") for reply in replies)
    return first["status"], first.get("headers", []), body


def header(headers: list[list[bytes]], name: bytes) -> list[bytes]:
    """Every value of header ``name``."""
    return [value for key, value in headers if key == name]


def drain(layer: InMemoryChannelLayer, prefix: str = REPLY_PREFIX) -> list[dict[str, Any]]:
    """Every message waiting on a process-local reply prefix."""
    replies = []
    while True:
        deliveries = layer.fetch([prefix], max_messages=100)
        if not deliveries:
            return replies
        replies.extend(delivery.content for delivery in deliveries)
