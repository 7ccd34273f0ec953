"""``WSClient``: a test client that speaks WebSocket messages, with cookies, headers and login."""

from __future__ import annotations

import json as json_module
from collections.abc import Mapping
from http.cookies import SimpleCookie
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from ..sessions import session_for_reply_channel
from ..utils import normalize_headers
from .base import Client

__all__ = ["WSClient"]

#: Channels whose messages carry no headers or query string (ASGI 1.0 WebSocket spec).
_FRAME_CHANNELS = frozenset({"websocket.receive", "websocket.disconnect"})


class WSClient(Client):
    """A client connection for WebSocket (and other) consumers.

    Args:
        ordered: number every message (``order`` 0, 1, 2...) as an interface server does;
            needed by ``@enforce_ordering`` consumers.
        alias, reply_channel_prefix, raise_consumer_exceptions: see :class:`Client`.
    """

    def __init__(self, ordered: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ordered = ordered
        self.order = 0
        self._headers: list[list[bytes]] = []
        self._cookies: dict[str, str] = {}
        self._session: SessionBase | None = None

    # -- cookies and headers -------------------------------------------------------------

    def set_cookie(self, key: str, value: str) -> None:
        """Send a cookie with the messages that carry headers."""
        self._cookies[key] = value

    def get_cookies(self) -> dict[str, str]:
        """The cookies sent (including the session cookie after :meth:`login`)."""
        return dict(self._cookies)

    def set_header(self, name: str | bytes, value: str | bytes) -> None:
        """Send a header (replacing one of the same name).  Use :meth:`set_cookie` for cookies.

        Raises:
            ValueError: the header is ``cookie``.
        """
        [[key, encoded]] = normalize_headers([[name, value]])
        if key == b"cookie":
            raise ValueError("Use set_cookie() to send cookies")
        self._headers = [pair for pair in self._headers if pair[0] != key]
        self._headers.append([key, encoded])

    @property
    def headers(self) -> list[list[bytes]]:
        """The headers sent: ``[name, value]`` byte pairs, the cookies last."""
        headers = [list(pair) for pair in self._headers]
        cookies = self.get_cookies()
        if cookies:
            jar = SimpleCookie()
            for key, value in cookies.items():
                jar[key] = value
            header = "; ".join(f"{key}={morsel.coded_value}" for key, morsel in jar.items())
            headers.append([b"cookie", header.encode("latin-1")])
        return headers

    @property
    def session(self) -> SessionBase:
        """The channel session of this client's reply channel (loaded once, on first use)."""
        if self._session is None:
            self._session = session_for_reply_channel(self.reply_channel)
        return self._session

    # -- sending and receiving ----------------------------------------------------------

    def prepare(
        self,
        to: str,
        content: Mapping[str, Any] | None = None,
        text: Any = None,
        path: str = "/",
    ) -> dict[str, Any]:
        """The message :meth:`send` sends.

        Adds ``reply_channel``, ``path`` (the query string split off into ``query_string``),
        ``headers`` (not on receive/disconnect, which carry none), ``order`` when ordered,
        and ``text`` (JSON-encoded unless it is a str).  Keys in ``content`` win; headers
        given there may be 1.x-style dicts.

        Raises:
            ValueError: ``order`` given by hand while the client numbers messages.
        """
        prepared = super().prepare(to, content)
        path, _, query = path.partition("?")
        prepared.setdefault("path", path)
        if to not in _FRAME_CHANNELS:
            prepared.setdefault("query_string", query.encode("latin-1"))
            if "headers" in prepared:
                prepared["headers"] = normalize_headers(prepared["headers"])
            else:
                prepared["headers"] = self.headers
        if self._ordered:
            if "order" in prepared:
                raise ValueError("Do not set 'order' yourself on a WSClient(ordered=True)")
            prepared["order"] = self.order
            self.order += 1
        if text is not None:
            prepared["text"] = text if isinstance(text, str) else json_module.dumps(text)
        return prepared

    def send(
        self, to: str, content: Mapping[str, Any] | None = None, text: Any = None,
        path: str = "/",
    ) -> None:
        """Send a message to channel ``to``; see :meth:`prepare` for what is added."""
        self.channel_layer.send(to, self.prepare(to, content, text, path))

    def send_and_consume(  # type: ignore[override]
        self,
        channel: str,
        content: Mapping[str, Any] | None = None,
        text: Any = None,
        path: str = "/",
        fail_on_none: bool = True,
        check_accept: bool = True,
    ) -> Any:
        """:meth:`send` then :meth:`consume`; see :meth:`consume` for ``check_accept``."""
        self.send(channel, content, text, path)
        return self.consume(channel, fail_on_none=fail_on_none, check_accept=check_accept)

    def consume(
        self, channel: str, fail_on_none: bool = True, check_accept: bool = True
    ) -> Any:
        """Run the consumer of the next message on ``channel``.

        After a ``websocket.connect``, with ``check_accept`` the next reply must be
        ``{"accept": True}`` (it is taken off the reply channel).

        Raises:
            AssertionError: the connection was not accepted.
        """
        result = super().consume(channel, fail_on_none=fail_on_none)
        if channel == "websocket.connect" and check_accept:
            received = self.receive(json=False)
            if received != {"accept": True}:
                raise AssertionError(f"Connection rejected: {received!r} != {{'accept': True}}")
        return result

    def receive(self, json: bool = True) -> Any:
        """The next reply: its text (JSON-decoded when ``json``), else the whole message.

        Returns None when nothing was sent.  As in 1.x, with ``json=True`` a text frame that
        is not JSON raises ``ValueError``; use ``receive(json=False)`` for plain text.
        """
        content = super().receive()
        if content is None:
            return None
        text = content.get("text")
        if json and isinstance(text, str):
            return json_module.loads(text)
        return content.get("text", content)

    # -- authentication ----------------------------------------------------------------

    def login(self, **credentials: Any) -> bool:
        """Log a user in with ``authenticate(**credentials)``; the session cookie is sent from
        now on.  Returns False if the credentials are wrong or the user inactive."""
        from django.contrib.auth import authenticate

        user = authenticate(**credentials)
        if user is None or not user.is_active:
            return False
        self._login(user)
        return True

    def force_login(self, user: Any, backend: str | None = None) -> None:
        """Log ``user`` in without credentials (``backend`` defaults to the first one)."""
        if backend is None:
            backend = settings.AUTHENTICATION_BACKENDS[0]
        self._login(user, backend)

    def _login(self, user: Any, backend: str | None = None) -> None:
        from django.contrib.auth import login

        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()
        login(request, user, backend)
        request.session.save()
        self.set_cookie(settings.SESSION_COOKIE_NAME, request.session.session_key)
