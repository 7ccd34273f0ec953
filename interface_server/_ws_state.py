"""The life cycle of one WebSocket, as a pure state machine.

Theory of operation
-------------------
A socket goes ``CONNECTING → OPEN → CLOSING → CLOSED``.  ``CONNECTING`` lasts from the
client's upgrade request until the app answers ``websocket.connect`` (the handshake is held
open meanwhile); ``CLOSING`` lasts from the server's close frame until the TCP connection is
gone.  Events come from three sides — the app's reply messages, the client's frames and
connection loss, and the server itself (timers, limits, overload, shutdown) — and
:meth:`WebSocketMachine.handle` turns each into actions for the autobahn adapter.

The reply table (ASGI 1.0 "Send/Close/Accept", §2.9 of the inventory):

================  ==============================  =========================================
state             message                         actions
================  ==============================  =========================================
CONNECTING        ``accept: True`` (+ data/close)  accept, send data, close if asked
CONNECTING        ``accept: False``               reject (403); data ignored
CONNECTING        data (``text``/``bytes``)        implicit accept, send, close if asked
CONNECTING        ``close`` without data          reject (403); the code is ignored
OPEN              data                            send (empty frames too)
OPEN              ``close``                       send data first, then close (True → 1000)
OPEN              ``accept``                      ignored
any               ``text`` *and* ``bytes``         the whole message is ignored
CLOSING/CLOSED    anything                        ignored (logged at debug level)
================  ==============================  =========================================

Exactly one ``websocket.disconnect`` follows every ``websocket.connect`` the app received,
however the socket ends, with the code the connection really ended with: the code of the
server's close frame when the server closed first (timeouts, limits, overload, shutdown), the
client's code when it closed first (1005 if its close frame had none), 1006 when the TCP
connection vanished without a close frame or the handshake was never completed.

An event that cannot happen in the current state (a client frame before the handshake) means
the adapter is confused: the machine enters the sticky ``ERROR`` state and asks for a 1011 close.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .messages import WsReply

__all__ = [
    "AcceptHandshake",
    "AppReply",
    "CancelConnect",
    "ClientData",
    "CloseSocket",
    "ConnectAdmitted",
    "ConnectTimeout",
    "ConnectionLost",
    "ForwardDisconnect",
    "ForwardReceive",
    "Ignore",
    "RejectHandshake",
    "SendFrame",
    "ServerClose",
    "WebSocketMachine",
    "WsState",
]

#: Close code reported when no close frame was exchanged (RFC 6455 §7.1.5).
ABNORMAL_CLOSURE = 1006
#: Close code reported when the client's close frame had no code.
NO_STATUS_RECEIVED = 1005


class WsState(enum.Enum):
    """Where a WebSocket is in its life."""

    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppReply:
    """A validated message from the reply channel."""

    reply: WsReply


@dataclass(frozen=True, slots=True)
class ClientData:
    """A complete message from the client (``str`` for text, ``bytes`` for binary)."""

    payload: str | bytes


@dataclass(frozen=True, slots=True)
class ServerClose:
    """The server closes the socket (timeout, limit, overload, shutdown...).

    ``status`` is the HTTP status used if the handshake is still pending.
    """

    code: int
    reason: str
    status: int = 503


@dataclass(frozen=True, slots=True)
class ConnectTimeout:
    """``--websocket_connect_timeout`` passed without an answer from the app."""


@dataclass(frozen=True, slots=True)
class ConnectAdmitted:
    """The channel layer accepted the ``websocket.connect`` message."""


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The TCP connection is gone.

    Attributes:
        peer_close_code: the code in the client's close frame, None if it had none.
        peer_sent_close: whether a close frame came from the client at all.
        local_close_code: the code of a close frame the server sent (e.g. autobahn's own 1009
            or 1002 for an invalid frame), None if none.
    """

    peer_close_code: int | None = None
    peer_sent_close: bool = False
    local_close_code: int | None = None


Event = AppReply | ClientData | ServerClose | ConnectTimeout | ConnectAdmitted | ConnectionLost


# -- actions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptHandshake:
    """Complete the opening handshake; ``subprotocol`` is the app's choice (may be None)."""

    subprotocol: str | None


@dataclass(frozen=True, slots=True)
class RejectHandshake:
    """Refuse the opening handshake with this HTTP status."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Send one message (text for ``str``, binary for ``bytes``)."""

    payload: str | bytes


@dataclass(frozen=True, slots=True)
class CloseSocket:
    """Send a close frame with ``code``."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ForwardReceive:
    """Send ``websocket.receive`` with this ``order``."""

    order: int
    payload: str | bytes


@dataclass(frozen=True, slots=True)
class ForwardDisconnect:
    """Send ``websocket.disconnect``."""

    code: int
    order: int


@dataclass(frozen=True, slots=True)
class CancelConnect:
    """Withdraw the ``websocket.connect`` message if it is still waiting for the layer."""


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do; ``reason`` is for the debug log."""

    reason: str


Action = (
    AcceptHandshake
    | RejectHandshake
    | SendFrame
    | CloseSocket
    | ForwardReceive
    | ForwardDisconnect
    | CancelConnect
    | Ignore
)

_S = WsState

# (state, event kind) → next state; pairs not listed are adapter errors (→ ERROR).
_TRANSITIONS: dict[tuple[WsState, str], WsState] = {
    (_S.CONNECTING, "accept"): _S.OPEN,
    (_S.CONNECTING, "reject"): _S.CLOSED,
    (_S.CONNECTING, "noop"): _S.CONNECTING,
    (_S.CONNECTING, "server_close"): _S.CLOSED,
    (_S.CONNECTING, "connect_timeout"): _S.CLOSED,
    (_S.CONNECTING, "admitted"): _S.CONNECTING,
    (_S.CONNECTING, "lost"): _S.CLOSED,
    (_S.OPEN, "accept"): _S.OPEN,
    (_S.OPEN, "reject"): _S.OPEN,
    (_S.OPEN, "noop"): _S.OPEN,
    (_S.OPEN, "send"): _S.OPEN,
    (_S.OPEN, "close"): _S.CLOSING,
    (_S.OPEN, "client_data"): _S.OPEN,
    (_S.OPEN, "server_close"): _S.CLOSING,
    (_S.OPEN, "admitted"): _S.OPEN,
    (_S.OPEN, "lost"): _S.CLOSED,
    (_S.OPEN, "connect_timeout"): _S.OPEN,
}
# Once closing or closed, every event is accepted and ignored (except loss, handled below).
for _state in (_S.CLOSING, _S.CLOSED):
    for _kind_name in ("accept", "reject", "noop", "send", "close", "client_data",
                       "server_close", "connect_timeout", "admitted", "lost"):
        _TRANSITIONS[(_state, _kind_name)] = _S.CLOSED if _kind_name == "lost" else _state


def _reply_kind(reply: WsReply, state: WsState) -> str:
    if reply.ignored is not None:
        return "noop"
    if state is _S.CONNECTING:
        if reply.accept is False:
            return "reject"
        if reply.accept or reply.data is not None:
            return "accept"
        if reply.close is not None:
            return "reject"
        return "noop"
    if reply.close is not None:
        return "close"
    if reply.data is not None:
        return "send"
    return "accept" if reply.accept is not None else "noop"


class WebSocketMachine:
    """State of one WebSocket; feed it events, carry out the returned actions.

    Attributes:
        state: the current :class:`WsState`.
        order: ``order`` of the last message sent to the app (connect is 0).
        connect_admitted: the layer took ``websocket.connect`` (so a disconnect is owed).
        close_code: the code the socket ended with, once it has.
    """

    def __init__(self) -> None:
        self.state = WsState.CONNECTING
        self.order = 0
        self.connect_admitted = False
        self.disconnect_sent = False
        self.server_close_code: int | None = None
        self.close_code: int | None = None

    def handle(self, event: Event) -> list[Action]:
        """Apply one event and return what to do."""
        state = self.state
        if state is _S.ERROR:
            return [Ignore(f"{type(event).__name__} after an internal error")]
        if isinstance(event, AppReply):
            kind = _reply_kind(event.reply, state)
        else:
            kind = _EVENT_KINDS[type(event)]
        next_state = _TRANSITIONS.get((state, kind))
        if next_state is None:
            self.state = _S.ERROR
            self.server_close_code = 1011
            return [CloseSocket(1011, f"unexpected {type(event).__name__} in state {state.value}")]
        self.state = next_state
        if isinstance(event, AppReply):
            return self._on_reply(event.reply, kind, state)
        handler = getattr(self, f"_on_{kind}")
        actions: list[Action] = handler(event, state)
        return actions

    # -- app replies ------------------------------------------------------------------------------

    def _on_reply(self, reply: WsReply, kind: str, state: WsState) -> list[Action]:
        if reply.ignored is not None:
            return [Ignore(f"reply ignored: {reply.ignored}")]
        if state in (_S.CLOSING, _S.CLOSED):
            return [Ignore(f"reply after the socket closed ({state.value})")]
        if state is _S.CONNECTING:
            if kind == "reject":
                return [RejectHandshake(403, "rejected by the application"),
                        *self._lost(ABNORMAL_CLOSURE)]
            if kind == "noop":
                return [Ignore("reply with nothing to do while connecting")]
            actions: list[Action] = [AcceptHandshake(reply.subprotocol)]
        else:
            if kind in ("accept", "reject", "noop"):
                return [Ignore("'accept' or empty reply on an open socket")]
            actions = []
        if reply.data is not None:
            actions.append(SendFrame(reply.data))
        if reply.close is not None:
            self.state = _S.CLOSING
            self.server_close_code = reply.close
            actions.append(CloseSocket(reply.close, "closed by the application"))
        return actions

    # -- other events -----------------------------------------------------------------------------

    def _on_client_data(self, event: ClientData, state: WsState) -> list[Action]:
        if state is not _S.OPEN:
            return [Ignore(f"client data while {state.value}")]
        self.order += 1
        return [ForwardReceive(self.order, event.payload)]

    def _on_server_close(self, event: ServerClose, state: WsState) -> list[Action]:
        if state is _S.CONNECTING:
            return [RejectHandshake(event.status, event.reason), *self._lost(ABNORMAL_CLOSURE)]
        if state is _S.OPEN:
            self.server_close_code = event.code
            return [CloseSocket(event.code, event.reason)]
        return [Ignore(f"server close while {state.value}")]

    def _on_connect_timeout(self, event: ConnectTimeout, state: WsState) -> list[Action]:
        if state is not _S.CONNECTING:
            return [Ignore("connect timer after the handshake")]
        return [
            RejectHandshake(403, "the application did not answer websocket.connect in time"),
            *self._lost(ABNORMAL_CLOSURE),
        ]

    def _on_admitted(self, event: ConnectAdmitted, state: WsState) -> list[Action]:
        self.connect_admitted = True
        if self.close_code is not None and not self.disconnect_sent:
            # The socket ended while websocket.connect was on its way to the layer.
            self.disconnect_sent = True
            return [ForwardDisconnect(self.close_code, self.order + 1)]
        return []

    def _on_lost(self, event: ConnectionLost, state: WsState) -> list[Action]:
        if self.close_code is not None:
            return [Ignore("connection end already handled")]
        if state is _S.CLOSING and self.server_close_code is not None:
            code = self.server_close_code
        elif state is _S.OPEN and event.local_close_code is not None:
            code = event.local_close_code  # e.g. autobahn's own 1009 / 1007 / 1002 close
        elif state is _S.OPEN and event.peer_sent_close:
            code = event.peer_close_code or NO_STATUS_RECEIVED
        else:
            code = ABNORMAL_CLOSURE
        return self._lost(code)

    def _lost(self, code: int) -> list[Action]:
        self.state = _S.CLOSED
        self.close_code = code
        if not self.connect_admitted:
            return [CancelConnect()]
        if self.disconnect_sent:
            return []
        self.disconnect_sent = True
        return [ForwardDisconnect(code, self.order + 1)]


_EVENT_KINDS: dict[type, str] = {
    ClientData: "client_data",
    ServerClose: "server_close",
    ConnectTimeout: "connect_timeout",
    ConnectAdmitted: "admitted",
    ConnectionLost: "lost",
}
