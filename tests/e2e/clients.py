"""Clients of the example site over real sockets: a cookie-keeping HTTP client and chat sockets.

The HTTP client does what a browser does for the sign-in form: keeps cookies (including
HTTPS-only ones, since it is the server under test, not the cookie policy), sends the CSRF token
from the form and an ``Origin`` header.  A :class:`ChatSocket` reads frames on its own thread
and lets the test wait, with a bound, for the frames it expects.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import websocket

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    text: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class HttpClient:
    """One visitor: sends requests to ``base_url`` and keeps the cookies it is given."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        parts = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port,
                                                timeout=self.timeout)
        all_headers = {"Connection": "close", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = self.cookie_header()
        try:
            connection.request(method, path, body=body, headers=all_headers)
            reply = connection.getresponse()
            text = reply.read().decode("utf-8", "replace")
            headers_out = reply.getheaders()
        finally:
            connection.close()
        for name, value in headers_out:
            if name.lower() == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for morsel in jar.values():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(morsel.key, None)
                    else:
                        self.cookies[morsel.key] = morsel.value
        return Response(reply.status, headers_out, text)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_form(self, path: str, fields: Mapping[str, str], csrf: bool = True) -> Response:
        """POST a form as a browser does: urlencoded, with Origin and (if wanted) the token."""
        data = dict(fields)
        if csrf:
            data.setdefault("csrfmiddlewaretoken", self.csrf_token())
        return self.request(
            "POST", path, urlencode(data).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin},
        )

    def csrf_token(self) -> str:
        """A CSRF form token, from the index page's sign-in form."""
        page = self.get("/chat/")
        assert page.status == 200, page
        match = _CSRF_INPUT.search(page.text)
        if match is None:  # signed in already: the sign-out form carries one
            raise AssertionError(f"no CSRF token on /chat/:\n{page.text[:2000]}")
        return match.group(1)

    def sign_in(self, username: str, password: str, next_url: str = "") -> Response:
        """Use the sign-in form; returns the redirect that follows it."""
        fields = {"username": username, "password": password}
        if next_url:
            fields["next"] = next_url
        return self.post_form("/chat/login/", fields)


class ChatSocket:
    """A WebSocket to a chat room; frames are parsed and kept in arrival order."""

    def __init__(self, url: str, cookie: str = "", label: str = "",
                 diagnostics: Callable[[], str] = lambda: "", timeout: float = 30.0) -> None:
        self.url = url
        self.label = label or url
        self.diagnostics = diagnostics
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.close_code: int | None = None
        self.closed = threading.Event()
        self._changed = threading.Condition()
        try:
            self.ws = websocket.create_connection(url, timeout=timeout, cookie=cookie or None)
        except Exception as exc:
            raise AssertionError(
                f"{self.label}: WebSocket handshake failed: {exc!r}\n{diagnostics()}"
            ) from exc
        self.ws.settimeout(None)  # the reader blocks; tests bound their waits themselves
        self._reader = threading.Thread(target=self._read, name=f"ws-{self.label}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                opcode, frame = self.ws.recv_data_frame(True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = frame.data if frame is not None else b""
                    if len(data) >= 2:
                        self.close_code = struct.unpack("!H", data[:2])[0]
                    break
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    text = frame.data.decode("utf-8")
                    with self._changed:
                        self.raw.append(text)
                        self.frames.append(json.loads(text))
                        self._changed.notify_all()
        except (websocket.WebSocketException, OSError, ValueError):
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    # -- sending -----------------------------------------------------------------------------

    def say(self, message: str) -> None:
        self.ws.send(json.dumps({"message": message}))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)

    # -- what arrived --------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        with self._changed:
            return list(self.frames)

    def live(self) -> list[dict[str, Any]]:
        """Chat messages that arrived live (not history, not errors)."""
        return [f for f in self.snapshot() if "message" in f and not f.get("history")]

    def history(self) -> list[dict[str, Any]]:
        return [f for f in self.snapshot() if f.get("history")]

    def wait_until(self, check: Callable[[list[dict[str, Any]]], bool], what: str,
                   timeout: float = 30.0) -> list[dict[str, Any]]:
        """Block until ``check(frames)`` is true; fail with what did arrive if it never is."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check(self.frames):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed.is_set():
                    why = f"closed ({self.close_code})" if self.closed.is_set() else "timed out"
                    raise AssertionError(
                        f"{self.label}: waiting for {what}: {why} after {len(self.frames)} "
                        f"frames; last: {self.frames[-5:]}\n{self.diagnostics()}"
                    )
                self._changed.wait(remaining)
            return list(self.frames)

    def wait_live(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait for at least ``count`` live chat messages; return them."""
        self.wait_until(
            lambda frames: sum(1 for f in frames if "message" in f and not f.get("history"))
            >= count,
            f"{count} live messages", timeout,
        )
        return self.live()

    def wait_message(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the live message with this text; return its frame."""
        frames = self.wait_until(
            lambda frames: any(f.get("message") == text and not f.get("history")
                               for f in frames),
            f"message {text!r}", timeout,
        )
        return next(f for f in frames if f.get("message") == text and not f.get("history"))

    def wait_closed(self, timeout: float = 30.0) -> int | None:
        if not self.closed.wait(timeout):
            raise AssertionError(f"{self.label}: still open after {timeout} s\n"
                                 f"{self.diagnostics()}")
        return self.close_code

    def close(self) -> None:
        """Close abruptly (the server sees the connection drop)."""
        # shutdown(2) first: closing the descriptor alone does not wake the reader's recv.
        with contextlib.suppress(Exception):
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.ws.shutdown()
        self._reader.join(5)

    def close_cleanly(self, timeout: float = 10.0) -> None:
        """Send a close frame and wait for the server's."""
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.send_close()
        self.wait_closed(timeout)
        self.close()
