"""Access log lines and the action-logger interface.

The server reports what happens to each connection by calling an *action logger*:
``callable(protocol, action, details)``, the interface Daphne 1.x had:

* ``("http", "complete", {path, status, method, client, time_taken, size})`` when a response
  finished (``status`` is the status sent, ``size`` the body bytes sent);
* ``("websocket", "connecting" | "connected" | "rejected" | "disconnected", {path, client})``.

``client`` is ``"host:port"`` (or None).  :class:`AccessLogGenerator` is the action logger that
writes NCSA-style lines; several loggers can be combined with :func:`combine`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["AccessLogGenerator", "ActionLogger", "combine", "format_client"]

ActionLogger = Callable[[str, str, dict[str, Any]], None]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WS_ACTIONS = {
    "connecting": "WSCONNECTING",
    "connected": "WSCONNECT",
    "rejected": "WSREJECT",
    "disconnected": "WSDISCONNECT",
}


def format_client(client: list[Any] | None) -> str | None:
    """``[host, port]`` → ``"host:port"`` (IPv6 hosts in brackets); None stays None."""
    if not client:
        return None
    host, port = client[0], client[1]
    if ":" in str(host):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _timestamp(now: float) -> str:
    # Month names are fixed English, whatever the process locale, so logs parse everywhere.
    tm = time.localtime(now)
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
    )


class AccessLogGenerator:
    """Action logger writing ``HOST - - [dd/Mon/YYYY:HH:MM:SS] "REQUEST" STATUS SIZE`` lines.

    Args:
        stream: a text stream; each line is flushed at once so ``tail -f`` works.
        clock: wall-clock source (seconds since the epoch), injectable for tests.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.clock = clock

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        """Write the line for one action; unknown actions are ignored."""
        if protocol == "http" and action == "complete":
            self.write_entry(
                host=details.get("client"),
                request=f"{details.get('method', '-')} {details.get('path', '-')}",
                status=details.get("status"),
                length=details.get("size"),
            )
        elif protocol == "websocket" and action in _WS_ACTIONS:
            self.write_entry(
                host=details.get("client"),
                request=f"{_WS_ACTIONS[action]} {details.get('path', '-')}",
            )

    def write_entry(
        self,
        host: str | None,
        request: str,
        status: int | None = None,
        length: int | None = None,
    ) -> None:
        """Write one NCSA-style line; missing fields are ``-``."""
        line = (
            f"{host or '-'} - - [{_timestamp(self.clock())}] \"{request}\" "
            f"{status if status is not None else '-'} {length if length is not None else '-'}\n"
        )
        self.stream.write(line)
        self.stream.flush()


def combine(*loggers: ActionLogger | None) -> ActionLogger | None:
    """One action logger calling each of ``loggers`` (None entries skipped)."""
    active = [logger for logger in loggers if logger is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def both(protocol: str, action: str, details: dict[str, Any]) -> None:
        for logger in active:
            logger(protocol, action, details)

    return both
