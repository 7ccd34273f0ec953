"""Tests for interface_server.access: NCSA-style lines and action-logger plumbing."""

from __future__ import annotations

import io
import re
import time

from interface_server.access import AccessLogGenerator, combine, format_client

STAMP = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\]"


def test_http_line() -> None:
    stream = io.StringIO()
    log = AccessLogGenerator(stream, clock=lambda: time.mktime((2024, 3, 5, 14, 7, 9, 0, 0, -1)))
    log("http", "complete", {"path": "/a", "status": 200, "method": "GET",
                             "client": "1.2.3.4:5", "time_taken": 0.1, "size": 12})
    assert stream.getvalue() == '1.2.3.4:5 - - [05/Mar/2024:14:07:09] "GET /a" 200 12\n'


def test_websocket_lines_and_missing_fields() -> None:
    stream = io.StringIO()
    log = AccessLogGenerator(stream)
    for action in ("connecting", "connected", "rejected", "disconnected", "unknown"):
        log("websocket", action, {"path": "/ws", "client": None})
    lines = stream.getvalue().splitlines()
    assert [line.split('"')[1] for line in lines] == [
        "WSCONNECTING /ws", "WSCONNECT /ws", "WSREJECT /ws", "WSDISCONNECT /ws"]
    assert all(re.fullmatch(rf'- - - {STAMP} "[^"]+" - -', line) for line in lines)


def test_format_client() -> None:
    assert format_client(["1.2.3.4", 80]) == "1.2.3.4:80"
    assert format_client(["::1", 80]) == "[::1]:80"
    assert format_client(None) is None


def test_combine() -> None:
    seen: list[tuple[str, str]] = []
    assert combine(None, None) is None
    single = combine(lambda p, a, d: seen.append((p, a)))
    assert single is not None
    both = combine(lambda p, a, d: seen.append((p, a)), None, lambda p, a, d: seen.append((a, p)))
    assert both is not None
    both("http", "complete", {})
    assert seen == [("http", "complete"), ("complete", "http")]
