"""Authentication for consumers: ``message.user`` from the HTTP or the channel session.

Only the connect message of a WebSocket carries cookies, so the usual pattern is to copy the
user from the HTTP session into the channel session on connect
(:func:`channel_session_user_from_http`) and to read it back from there on every later message
(:func:`channel_session_user`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase

from .sessions import channel_and_http_session, channel_session, http_session
from .utils import find_message

__all__ = [
    "channel_and_http_session_user_from_http",
    "channel_session_user",
    "channel_session_user_from_http",
    "get_user",
    "http_session_user",
    "transfer_user",
]

F = TypeVar("F", bound=Callable[..., Any])

_AUTH_KEYS = (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY)


class _SessionView:
    """The ``request.session`` that :func:`django.contrib.auth.get_user` is given.

    ``get_user`` may rotate the session key (after a ``SECRET_KEY`` rotation) or flush the
    session (when the password changed).  A consumer cannot hand the browser a new cookie and a
    channel session must keep the key of its reply channel, so here rotating keeps the key and
    flushing forgets only the login, not the rest of the session.
    """

    def __init__(self, session: SessionBase) -> None:
        self._session = session

    def __getitem__(self, key: str) -> Any:
        return self._session[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._session[key] = value

    def __contains__(self, key: str) -> bool:
        return key in self._session

    def get(self, key: str, default: Any = None) -> Any:
        return self._session.get(key, default)

    def cycle_key(self) -> None:
        self._session.modified = True

    def flush(self) -> None:
        for key in _AUTH_KEYS:
            self._session.pop(key, None)


class _Request:
    """Just enough of a request for ``get_user``: a ``session``."""

    def __init__(self, session: SessionBase) -> None:
        self.session = _SessionView(session)


def get_user(session: SessionBase | None) -> Any:
    """The user logged in to ``session``, or an ``AnonymousUser``."""
    if session is None:
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()
    return auth.get_user(_Request(session))


def transfer_user(from_session: SessionBase | None, to_session: SessionBase) -> None:
    """Copy the logged-in user (id, backend, hash) from one session to another.

    Nothing is copied when ``from_session`` is None or has nobody logged in.
    """
    if from_session is None:
        return
    if all(key in from_session for key in _AUTH_KEYS):
        for key in _AUTH_KEYS:
            to_session[key] = from_session[key]


def http_session_user(func: F) -> F:
    """``message.http_session`` plus ``message.user`` from it (``AnonymousUser`` if none)."""

    @http_session
    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "http_session_user")
        message.user = get_user(message.http_session)  # type: ignore[attr-defined]
        return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


def channel_session_user(func: F) -> F:
    """``message.channel_session`` plus ``message.user`` from it (``AnonymousUser`` if none)."""

    @channel_session
    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "channel_session_user")
        message.user = get_user(message.channel_session)  # type: ignore[attr-defined]
        return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


def channel_session_user_from_http(func: F) -> F:
    """For connect consumers: the HTTP user, copied into the channel session.

    Gives ``message.http_session``, ``message.channel_session`` and ``message.user``; later
    consumers of the same socket read the user with :func:`channel_session_user`.
    """

    @http_session_user
    @channel_session
    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "channel_session_user_from_http")
        http = getattr(message, "http_session", None)
        transfer_user(http, message.channel_session)  # type: ignore[attr-defined]
        return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


def channel_and_http_session_user_from_http(func: F) -> F:
    """Like :func:`channel_session_user_from_http`, keeping the HTTP session for later messages
    too (see :func:`~channels_classic.sessions.channel_and_http_session`)."""

    @http_session_user
    @channel_and_http_session
    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "channel_and_http_session_user_from_http")
        http = getattr(message, "http_session", None)
        transfer_user(http, message.channel_session)  # type: ignore[attr-defined]
        return func(*args, **kwargs)

    return inner  # type: ignore[return-value]
