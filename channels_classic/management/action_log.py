"""``runserver``'s console lines for HTTP requests and WebSocket events (the 1.x format).

The interface server reports each event to an *action logger* ``(protocol, action, details)``;
:func:`format_action` turns one into the line 1.x users know, and :class:`ConsoleActionLogger`
writes it to the console in Django's colours::

    [2025/01/31 12:00:00] HTTP GET /chat/ 200 [0.01, 127.0.0.1:52100]
    [2025/01/31 12:00:01] WebSocket HANDSHAKING /chat/lobby/ [127.0.0.1:52102]
    [2025/01/31 12:00:01] WebSocket CONNECT /chat/lobby/ [127.0.0.1:52102]
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["ConsoleActionLogger", "format_action", "style_for"]

_WEBSOCKET_WORDS = {
    "connecting": "HANDSHAKING",
    "connected": "CONNECT",
    "rejected": "REJECT",
    "disconnected": "DISCONNECT",
}
_WEBSOCKET_STYLES = {
    "connecting": "HTTP_INFO",
    "connected": "HTTP_SUCCESS",
    "rejected": "HTTP_BAD_REQUEST",
    "disconnected": "HTTP_INFO",
}


def style_for(status: int) -> str:
    """The Django colour-style role for an HTTP status (as Django's own runserver picks)."""
    if status < 200:
        return "HTTP_INFO"
    if status < 300:
        return "HTTP_SUCCESS"
    if status == 304:
        return "HTTP_NOT_MODIFIED"
    if status < 400:
        return "HTTP_REDIRECT"
    if status == 404:
        return "HTTP_NOT_FOUND"
    if status < 500:
        return "HTTP_BAD_REQUEST"
    return "HTTP_SERVER_ERROR"


def format_action(
    protocol: str, action: str, details: dict[str, Any]
) -> tuple[str, str] | None:
    """``(line, style role)`` for one event, or None for events runserver does not show."""
    client = details.get("client") or "-"
    path = details.get("path", "-")
    if protocol == "http" and action == "complete":
        status = details.get("status")
        taken = details.get("time_taken") or 0.0
        line = f"HTTP {details.get('method', '-')} {path} {status} [{taken:.2f}, {client}]"
        return line, style_for(status if isinstance(status, int) else 500)
    if protocol == "websocket" and action in _WEBSOCKET_WORDS:
        return f"WebSocket {_WEBSOCKET_WORDS[action]} {path} [{client}]", _WEBSOCKET_STYLES[action]
    return None


class ConsoleActionLogger:
    """Action logger writing timestamped, coloured lines to ``stream``.

    Args:
        stream: where to write (runserver's stderr).
        style: Django's ``color_style()`` (or ``no_style()``); roles are looked up on it.
        now: clock for the timestamp, injectable for tests.
    """

    def __init__(
        self,
        stream: TextIO,
        style: Any,
        now: Callable[[], datetime.datetime] = datetime.datetime.now,
    ) -> None:
        self.stream = stream
        self.style = style
        self.now = now
        # Called from the server's thread; a lock keeps lines whole if anything else writes.
        self._lock = threading.Lock()

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Write the line for one event."""
        formatted = format_action(protocol, action, details)
        if formatted is None:
            return
        line, role = formatted
        stamp = self.now().strftime("%Y/%m/%d %H:%M:%S")
        paint = getattr(self.style, role, None) or (lambda text: text)
        with self._lock:
            self.stream.write(paint(f"[{stamp}] {line}") + "\n")
            self.stream.flush()
