"""Sessions for consumers: ``channel_session``, ``http_session`` and ``enforce_ordering``.

Channel sessions
    A channel session is an ordinary Django session whose key is derived from the reply
    channel (``"chn"`` + 29 hex digits of its SHA-1), so every consumer that handles a message
    of one connection sees the same session, whichever worker runs it.  The store is
    ``CHANNEL_SESSION_ENGINE`` or, when unset, ``SESSION_ENGINE``; the signed-cookies engine is
    refused because only an HTTP response can write a cookie.

    The session is *not* created up front.  It is loaded (possibly empty), handed to the
    consumer, and written once afterwards if the consumer changed it.  A first write uses the
    engine's atomic create; when a consumer of the same connection created it in the meantime
    (``CreateError``), the changes this consumer made are applied to the stored session and
    saved.  No consumer is ever put back on its channel because of a session race, so there are
    no retry storms.  A session deleted while a consumer ran (its socket disconnected) stays
    deleted: the late consumer's changes are dropped.

    The session is deleted after the ``websocket.disconnect`` (or ``http.disconnect``)
    consumer ran, instead of lingering until the engine expires it.

Ordering
    ``enforce_ordering`` uses the ``order`` key the interface server puts on every message of a
    WebSocket (connect = 0, receives 1, 2..., disconnect last) and a counter in the channel
    session (``__channels_next_order``).  See :func:`enforce_ordering` for the modes and
    :func:`_rotate` for how out-of-order messages wait without spinning.
"""

from __future__ import annotations

import copy
import enum
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.core.exceptions import ImproperlyConfigured

from .exceptions import ConsumeLater
from .message import Message, consumer_scope, discard_pending, note_send
from .utils import find_message, message_cookies, query_params

__all__ = [
    "ORDER_KEY",
    "ChannelSessionEngineError",
    "channel_and_http_session",
    "channel_session",
    "channel_session_key",
    "enforce_ordering",
    "http_session",
    "session_for_reply_channel",
    "waiting_room_name",
]

logger = logging.getLogger("channels_classic.sessions")

#: Session key holding the next expected ``order`` of a connection (the 1.x name).
ORDER_KEY = "__channels_next_order"
#: Channels whose consumer is the last one a connection gets; its session is deleted after.
DISCONNECT_CHANNELS = frozenset({"websocket.disconnect", "http.disconnect"})
#: Default of ``CHANNELS_ORDERING_TIMEOUT``: seconds a message may wait for an earlier one.
DEFAULT_ORDERING_TIMEOUT = 30.0
#: Most messages one connection may have waiting for an earlier one; more closes the socket.
MAX_WAITING = 50
#: Close code sent to a socket whose ordering had to be given up (1011: internal error).
ORDERING_CLOSE_CODE = 1011
#: ``ORDER_KEY`` value once ordering was given up for a connection.
ABANDONED = "abandoned"

_SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"

F = TypeVar("F", bound=Callable[..., Any])

#: Wall clock used for waiting times (shared by every process); tests may replace it.
_clock: Callable[[], float] = time.time


class ChannelSessionEngineError(ImproperlyConfigured, ValueError):
    """The configured session engine cannot store channel sessions.

    Also a ``ValueError``, which is what Channels 1.x raised.
    """


# -- the store ------------------------------------------------------------------------------


def channel_session_engine() -> ModuleType:
    """The session engine module for channel sessions.

    Raises:
        ChannelSessionEngineError: the engine is the signed-cookies one.
    """
    path = getattr(settings, "CHANNEL_SESSION_ENGINE", None) or settings.SESSION_ENGINE
    if path == _SIGNED_COOKIES:
        raise ChannelSessionEngineError(
            "Channel sessions cannot use the signed-cookies session engine: nothing can write "
            "a cookie from a consumer. Set CHANNEL_SESSION_ENGINE to a server-side engine, "
            "e.g. 'django.contrib.sessions.backends.cache' or '...backends.db'."
        )
    return import_module(path)


def http_session_engine() -> ModuleType:
    """The session engine module for HTTP sessions (``SESSION_ENGINE``)."""
    return import_module(settings.SESSION_ENGINE)


def channel_session_key(reply_channel: str) -> str:
    """The session key for a reply channel: ``"chn"`` + 29 hex digits of its SHA-1."""
    return "chn" + hashlib.sha1(reply_channel.encode("utf-8")).hexdigest()[:29]


def _bind_key(store: SessionBase, key: str) -> None:
    # Engines forget the key when loading a session that does not exist yet (so a save would
    # invent a random one).  Channel sessions must keep the key derived from the reply
    # channel; ``_session_key`` is the validating setter every engine shares.
    if store.session_key != key:
        store._session_key = key


def session_for_reply_channel(reply_channel: str) -> SessionBase:
    """The channel session of ``reply_channel``, loaded, keyed for it even if not stored yet.

    Raises:
        ChannelSessionEngineError: the session engine cannot hold channel sessions.
    """
    return _load(reply_channel).store


@dataclass
class _State:
    """One loaded channel session while the consumers of one message use it."""

    store: SessionBase
    key: str
    existed: bool
    snapshot: dict[str, Any]
    #: Set when no consumer ran for the message (it was parked by enforce_ordering).
    skipped: bool = False

    def changes(self) -> tuple[dict[str, Any], set[str]]:
        """What the consumers changed since the load: (set or updated keys, deleted keys)."""
        current = dict(self.store.items())
        updated = {
            name: value
            for name, value in current.items()
            if name not in self.snapshot or self.snapshot[name] != value
        }
        return updated, set(self.snapshot) - set(current)

    def save(self) -> None:
        """Write the consumers' changes; see the module docstring for the rules."""
        _bind_key(self.store, self.key)
        if not self.existed:
            if not dict(self.store.items()):
                return  # nothing worth creating
            try:
                self.store.save(must_create=True)
            except CreateError:
                self._merge_into_stored()
            else:
                self.existed = True
        else:
            try:
                self.store.save()
            except UpdateError:
                logger.debug(
                    "Channel session %s was deleted while a consumer used it (the socket "
                    "disconnected); its changes are dropped", self.key,
                )
                return
        self.store.modified = False
        self.snapshot = copy.deepcopy(dict(self.store.items()))

    def _merge_into_stored(self) -> None:
        # Another consumer of this connection created the session first.  Apply only what
        # this consumer changed on top of what is stored, instead of failing or retrying.
        updated, deleted = self.changes()
        fresh = channel_session_engine().SessionStore(session_key=self.key)
        data = dict(fresh.items())
        if fresh.session_key is None:  # deleted again in between: nothing to merge into
            logger.debug("Channel session %s vanished during a concurrent create", self.key)
            return
        data.update(updated)
        for name in deleted:
            data.pop(name, None)
        fresh.clear()
        fresh.update(data)
        try:
            fresh.save()
        except UpdateError:
            logger.debug("Channel session %s was deleted during a merge", self.key)
            return
        self.existed = True
        # The consumer's store now mirrors what is stored.
        self.store.clear()
        self.store.update(data)

    def delete(self) -> None:
        """Delete the stored session (after the connection's last consumer)."""
        self.store.delete(self.key)
        self.existed = False


def _load(reply_channel: str) -> _State:
    engine = channel_session_engine()
    key = channel_session_key(reply_channel)
    store: SessionBase = engine.SessionStore(session_key=key)
    data = dict(store.items())  # loads now, so existence is known before the consumer runs
    existed = store.session_key is not None
    _bind_key(store, key)
    return _State(store, key, existed, copy.deepcopy(data))


class _Active(threading.local):
    """Sessions in use by the consumers running in this thread, by ``id(message)``.

    Every decorator of one message runs in the same thread, nested; entries live exactly as
    long as the outermost decorator, so ids are never stale.
    """

    def __init__(self) -> None:
        self.channel: dict[int, _State] = {}
        self.http: dict[int, SessionBase | None] = {}


_active = _Active()


@contextmanager
def _channel_session_scope(message: Message) -> Iterator[_State]:
    """Attach ``message.channel_session`` for the block; save or delete it afterwards.

    Nested scopes for the same message share the outer one, which alone writes.
    """
    state = _active.channel.get(id(message))
    if state is not None:
        yield state
        return
    if message.reply_channel is None:
        raise ValueError(
            f"@channel_session needs a reply_channel, and the message on "
            f"{message.channel.name!r} has none; use it on connection-based channels only"
        )
    state = _load(message.reply_channel.name)
    message.channel_session = state.store  # type: ignore[attr-defined]
    _active.channel[id(message)] = state
    try:
        yield state
    except ConsumeLater:
        # The message runs again later: what this attempt changed is not kept.
        _active.channel.pop(id(message), None)
        raise
    except BaseException:
        _active.channel.pop(id(message), None)
        try:
            _finish(message, state)
        except Exception:  # do not hide the consumer's own exception
            logger.exception("Could not write the channel session of %s", state.key)
        raise
    _active.channel.pop(id(message), None)
    _finish(message, state)


def _finish(message: Message, state: _State) -> None:
    if state.skipped:
        return
    if message.channel.name in DISCONNECT_CHANNELS:
        state.delete()
    elif state.store.modified:
        state.save()


def channel_session(func: F) -> F:
    """Give the consumer ``message.channel_session``, a session kept per reply channel.

    Works on functions and methods (the Message is the first or second argument).  Changes are
    saved when the consumer returns (or raises, except ``ConsumeLater``); the session is
    deleted after the disconnect consumer.
    """

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "channel_session")
        with _channel_session_scope(message):
            return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


# -- HTTP sessions ----------------------------------------------------------------------------


def _query_string_sessions_allowed() -> bool:
    return bool(getattr(settings, "CHANNELS_SESSION_KEY_FROM_QUERY_STRING", True))


def http_session_key(message: Message) -> str | None:
    """The HTTP session key a message carries, or None.

    The session cookie (``SESSION_COOKIE_NAME``) wins.  A ``session_key`` query parameter is
    accepted on ``websocket.connect`` only — the case Channels 1.x documented, for sites
    that serve WebSockets on another port than their pages — unless
    ``CHANNELS_SESSION_KEY_FROM_QUERY_STRING = False``.
    """
    key = message_cookies(message.content).get(settings.SESSION_COOKIE_NAME)
    if key:
        return key
    if message.channel.name == "websocket.connect" and _query_string_sessions_allowed():
        values = query_params(message.content).get("session_key")
        if values and values[0]:
            return values[0]
    return None


@contextmanager
def _http_session_scope(message: Message) -> Iterator[SessionBase | None]:
    if id(message) in _active.http:
        yield _active.http[id(message)]
        return
    key = http_session_key(message)
    session = http_session_engine().SessionStore(session_key=key) if key else None
    message.http_session = session  # type: ignore[attr-defined]
    _active.http[id(message)] = session
    try:
        yield session
    finally:
        _active.http.pop(id(message), None)
        # channel_and_http_session may have rehydrated the session for a later message.
        current = getattr(message, "http_session", None)
        if current is not None and current.modified and current.session_key:
            current.save()


def http_session(func: F) -> F:
    """Give the consumer ``message.http_session``: the user's Django session, or None.

    The key comes from the session cookie (or, on ``websocket.connect``, a ``session_key``
    query parameter; see :func:`http_session_key`).  The session is never created here; it is
    saved afterwards if the consumer changed it.
    """

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "http_session")
        with _http_session_scope(message):
            return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


def channel_and_http_session(func: F) -> F:
    """Both sessions; the HTTP session key is remembered in the channel session.

    Only the connect message carries cookies, so the key seen there is stored in the channel
    session (under ``SESSION_COOKIE_NAME``) and later messages get ``message.http_session``
    back from it.
    """

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "channel_and_http_session")
        with _http_session_scope(message) as http, _channel_session_scope(message) as state:
            name = settings.SESSION_COOKIE_NAME
            stored = state.store.get(name)
            if http is not None and http.session_key and stored != http.session_key:
                state.store[name] = http.session_key
            elif http is None and stored:
                rehydrated = http_session_engine().SessionStore(session_key=stored)
                message.http_session = rehydrated  # type: ignore[attr-defined]
                _active.http[id(message)] = rehydrated
            return func(*args, **kwargs)

    return inner  # type: ignore[return-value]


# -- ordering ------------------------------------------------------------------------------


class Decision(enum.Enum):
    """What :func:`decide` says to do with a message."""

    RUN = "run"  # run the consumer; the counter does not move
    RUN_AND_ADVANCE = "run-and-advance"  # run it, then expect the next order
    PARK = "park"  # an earlier message has not been consumed yet: wait for it
    DUPLICATE = "duplicate"  # this order was consumed already: drop it


def expected_order(stored: Any, order: int) -> int | None:
    """The order a connection expects next, given the stored counter; None once abandoned.

    With no counter stored, a message other than the connect (order 0) proves the connect
    already ran: interface servers hold the handshake until the connect consumer has answered,
    so a client cannot send anything before.  Assuming so is what lets
    ``@enforce_ordering`` receive consumers work behind a connect consumer that is not
    decorated itself (which stranded every socket in Channels 1.x).
    """
    if stored == ABANDONED:
        return None
    if isinstance(stored, int) and not isinstance(stored, bool) and stored >= 0:
        return stored
    return 0 if order == 0 else 1


def decide(order: int, stored: Any, slight: bool) -> Decision:
    """Pure ordering rule for a message with ``order`` given the stored counter.

    Strict: consume exactly in order.  Slight: the connect (order 0) first, then anything;
    only the connect moves the counter, so slight ordering costs no session write per message.
    Once ordering was abandoned for the connection, everything runs.
    """
    expected = expected_order(stored, order)
    if expected is None:
        return Decision.RUN
    if order < expected:
        return Decision.DUPLICATE
    if slight:
        return Decision.RUN_AND_ADVANCE if order == 0 else Decision.RUN
    if order == expected:
        return Decision.RUN_AND_ADVANCE
    return Decision.PARK


def waiting_room_name(reply_channel: str) -> str:
    """The single-reader channel where a connection's early messages wait for their turn."""
    digest = hashlib.sha1(reply_channel.encode("utf-8")).hexdigest()
    return f"channels_classic.ordering?{digest}"


def ordering_timeout() -> float:
    """``CHANNELS_ORDERING_TIMEOUT``: seconds a message waits for an earlier one (30)."""
    value = getattr(settings, "CHANNELS_ORDERING_TIMEOUT", DEFAULT_ORDERING_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ImproperlyConfigured(
            f"CHANNELS_ORDERING_TIMEOUT must be a number of seconds >= 0, not {value!r}"
        )
    return float(value)


def _message_order(message: Message) -> int:
    order = message.content.get("order")
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(
            f"@enforce_ordering needs an integer 'order' >= 0 in the message, and the message "
            f"on {message.channel.name!r} has order={order!r}; use it on WebSocket channels"
        )
    return order


def enforce_ordering(func: Any = None, slight: bool = False) -> Any:
    """Run a connection's messages in their ``order``.

    Use as ``@enforce_ordering`` (strict) or ``@enforce_ordering(slight=True)``.

    * Strict: each message waits until every earlier one was consumed.  A message that
      arrives early waits in a per-connection waiting room on the layer; the consumer that
      finishes the message before it moves it back to its channel.  Nothing spins.
    * Slight: the connect (order 0) is consumed first, the rest in any order.

    A consumer that raises still counts as consumed, so one failure does not block the socket
    (``ConsumeLater`` does not count: the message runs again).  If messages wait longer than
    ``CHANNELS_ORDERING_TIMEOUT`` for one that never comes (it was lost), or more than
    :data:`MAX_WAITING` pile up, ordering is given up for that socket: it is closed with code
    1011, an error is logged, and its remaining messages (the disconnect above all) are
    consumed without ordering.  Use the same mode for all consumers of a connection.

    Raises:
        ValueError: the message has no integer ``order`` (from the wrapped consumer).
    """
    if func is None:
        return functools.partial(enforce_ordering, slight=slight)

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        message = find_message(args, "enforce_ordering")
        order = _message_order(message)
        with _channel_session_scope(message) as state:
            stored = state.store.get(ORDER_KEY)
            decision = decide(order, stored, slight)
            if decision is Decision.RUN:
                return func(*args, **kwargs)
            if decision is Decision.RUN_AND_ADVANCE:
                return _run_and_advance(func, args, kwargs, message, order, state)
            state.skipped = True
            if decision is Decision.DUPLICATE:
                logger.warning(
                    "Message %d on %s for %s was consumed before (the connection expects %s); "
                    "dropped", order, message.channel.name, message.reply_channel,
                    expected_order(stored, order),
                )
                return None
            _park(message, order, expected_order(stored, order))
            return None

    return inner


def _run_and_advance(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    message: Message,
    order: int,
    state: _State,
) -> Any:
    # The consumer's sends get their own buffer, flushed here rather than by the worker, so
    # they reach the layer *before* the next message of the connection is released: replies
    # stay in order.  So the counter is saved after that flush — the next message cannot run
    # before the save anyway.  The connect is the exception: its session (with the counter)
    # must be stored before its accept lets the client send anything.
    save_first = order == 0
    outcome = "interrupted"
    advanced = False
    report = None
    try:
        with consumer_scope() as report:
            try:
                result = func(*args, **kwargs)
            except ConsumeLater:
                outcome = "later"  # it runs again: not consumed yet
                discard_pending()
                raise
            except Exception:
                outcome = "failed"  # the worker drops it: counts as consumed
                raise
            else:
                outcome = "ok"
            finally:
                if save_first and outcome in ("ok", "failed"):
                    advanced = _advance(state, order)
    finally:
        if report is not None:
            for target in report.touched:
                note_send(target)  # the worker's auto-accept must see the reply
        if not save_first and outcome in ("ok", "failed"):
            try:
                advanced = _advance(state, order)
            except Exception:
                logger.exception(
                    "Could not record that message %d of %s was consumed; the messages after "
                    "it wait until CHANNELS_ORDERING_TIMEOUT", order, message.reply_channel,
                )
        if advanced:
            try:
                _rotate(message, order + 1, [])
            except Exception:
                logger.exception(
                    "Could not release the messages waiting after message %d of %s",
                    order, message.reply_channel,
                )
    return result


def _advance(state: _State, order: int) -> bool:
    current = state.store.get(ORDER_KEY)
    if current == ABANDONED:
        return False
    state.store[ORDER_KEY] = max(order + 1, current if isinstance(current, int) else 0)
    state.save()
    return True


@dataclass
class _Parked:
    """A message waiting for its turn, as stored in the waiting room."""

    channel: str
    content: dict[str, Any]
    order: int
    since: float
    attempts: int = 0

    def as_message(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "content": self.content,
            "order": self.order,
            "since": self.since,
            "attempts": self.attempts,
        }

    @classmethod
    def from_message(cls, content: dict[str, Any]) -> _Parked:
        return cls(
            content["channel"], content["content"], int(content["order"]),
            float(content["since"]), int(content.get("attempts", 0)),
        )


@dataclass
class _Room:
    """What one pass over a connection's waiting room found."""

    ready: list[_Parked] = field(default_factory=list)
    stale: list[_Parked] = field(default_factory=list)
    waiting: list[_Parked] = field(default_factory=list)


def sort_waiting(parked: list[_Parked], expected: int) -> _Room:
    """Split parked messages into ready (their turn), stale (consumed already) and waiting."""
    room = _Room()
    for item in parked:
        if item.order == expected:
            room.ready.append(item)
        elif item.order < expected:
            room.stale.append(item)
        else:
            room.waiting.append(item)
    room.waiting.sort(key=lambda item: item.order)
    return room


def _park(message: Message, order: int, expected: int | None) -> None:
    item = _Parked(message.channel.name, message.content, order, _clock(), message.attempts)
    _rotate(message, expected, [item])


def _stored_order(key: str) -> Any:
    return channel_session_engine().SessionStore(session_key=key).get(ORDER_KEY)


def _take_room(layer: Any, room_name: str) -> list[_Parked]:
    parked: list[_Parked] = []
    while True:
        batch = layer.fetch([room_name], max_messages=MAX_WAITING)
        parked.extend(_Parked.from_message(delivery.content) for delivery in batch)
        if len(batch) < MAX_WAITING:
            return parked


def _rotate(message: Message, expected: int | None, in_hand: list[_Parked]) -> None:
    """Release the waiting messages whose turn has come; put the others back.

    Correctness rests on one rule: whoever puts messages (back) into the waiting room reads
    the stored counter *afterwards*, and goes round again if it moved.  The consumer that
    moves the counter saves it *before* it looks into the room.  So either that consumer
    finds the message in the room, or the one that put it there sees the new counter: no
    message is left waiting for a turn that has passed, and nobody polls.
    """
    layer = message.channel_layer
    assert message.reply_channel is not None  # checked by the session scope
    reply = message.reply_channel.name
    room_name = waiting_room_name(reply)
    key = channel_session_key(reply)
    for _ in range(MAX_WAITING + 2):  # each pass needs the counter to have moved
        parked = in_hand + _take_room(layer, room_name)
        if expected is None:  # ordering abandoned: everything goes back to be consumed
            _requeue(layer, reply, parked)
            return
        room = sort_waiting(parked, expected)
        for item in room.stale:
            logger.warning(
                "Message %d on %s for %s was consumed before; dropped",
                item.order, item.channel, reply,
            )
        _requeue(layer, reply, room.ready)
        if not room.waiting:
            return
        waited = _clock() - min(item.since for item in room.waiting)
        reason = None
        if not room.ready and waited > ordering_timeout():
            reason = (
                f"message(s) {expected}..{room.waiting[0].order - 1} did not arrive within "
                f"{ordering_timeout():g} s (CHANNELS_ORDERING_TIMEOUT)"
            )
        elif len(room.waiting) > MAX_WAITING:
            reason = f"more than {MAX_WAITING} messages are waiting for message {expected}"
        else:
            errors = layer.send_many([(room_name, item.as_message()) for item in room.waiting])
            failed = [item for item, error in zip(room.waiting, errors, strict=True) if error]
            room.waiting = failed
            if failed:
                error = next(error for error in errors if error is not None)
                reason = f"messages could not wait for message {expected} ({error})"
        if reason is not None:
            _abandon(layer, reply, key, reason, room.waiting[0].channel)
            expected, in_hand = None, room.waiting
            continue
        expected_now = expected_order(_stored_order(key), 1)
        if expected_now == expected:
            return
        expected, in_hand = expected_now, []
    logger.error("Socket %s: gave up releasing waiting messages (counter kept moving)", reply)


def _requeue(layer: Any, reply: str, items: list[_Parked]) -> None:
    for item in items:
        try:
            layer.send(item.channel, item.content, attempts=item.attempts)
        except Exception as exc:
            _close(layer, reply, item.channel)
            logger.error(
                "Socket %s: could not put message %d back on %s (%s: %s); dropped it and "
                "closed the socket", reply, item.order, item.channel, type(exc).__name__, exc,
            )


def _abandon(layer: Any, reply: str, key: str, reason: str, channel: str) -> None:
    # A message was lost (expired unread, dropped, or its worker died) or the client floods
    # the socket: waiting longer helps nobody.  Close the socket so the client knows, and let
    # its remaining messages, the disconnect above all, be consumed without ordering.
    logger.error(
        "Socket %s: %s; stopped ordering its messages and closed it with code %d",
        reply, reason, ORDERING_CLOSE_CODE,
    )
    _close(layer, reply, channel)
    store = channel_session_engine().SessionStore(session_key=key)
    data = dict(store.items())
    existed = store.session_key is not None
    _bind_key(store, key)
    store[ORDER_KEY] = ABANDONED
    _State(store, key, existed, data).save()


def _close(layer: Any, reply: str, channel: str) -> None:
    if not channel.startswith("websocket."):
        return
    try:
        layer.send(reply, {"close": ORDERING_CLOSE_CODE})
    except Exception:
        logger.exception("Could not close socket %s", reply)
