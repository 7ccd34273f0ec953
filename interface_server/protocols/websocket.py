"""WebSocket connections: autobahn frames the wire, :mod:`.._ws_state` decides.

Theory of operation
-------------------
The HTTP protocol parses the upgrade request with h11, then hands its raw bytes to a
:class:`WebSocketProtocol` (an autobahn ``WebSocketServerProtocol``) sharing the same transport.
Autobahn validates the handshake, parses and validates frames (UTF-8 → 1007, protocol errors
and unmasked client frames → 1002, messages over ``max_ws_message_size`` → 1009) and writes
frames.  Everything else is decided by :class:`~interface_server._ws_state.WebSocketMachine`:
this class turns autobahn callbacks, reply messages and timers into machine events and carries
out the actions it returns.

``onConnect`` returns a Deferred that is fired only when the app answers ``websocket.connect``
(or the connect timer or an overload refuses it), so the handshake is held open meanwhile.

Autobahn's own timers (handshake, close handshake, auto-ping) are off: they run on a global
reactor.  This class runs the equivalent timers on the server's injected clock instead, and
pings are driven by *inbound* silence only, so a busy server-to-client stream still notices a
dead client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, cast

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol as _AutobahnState
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ITCPTransport
from twisted.python.failure import Failure

from channels_classic.layers.base import ChannelFull, LayerUnavailable, MessageTooLarge

from .._ws_state import (
    AcceptHandshake,
    Action,
    AppReply,
    CancelConnect,
    ClientData,
    CloseSocket,
    ConnectAdmitted,
    ConnectionLost,
    ConnectTimeout,
    ForwardDisconnect,
    ForwardReceive,
    Ignore,
    RejectHandshake,
    SendFrame,
    ServerClose,
    WebSocketMachine,
)
from ..access import format_client
from ..config import ServerConfig
from ..context import Handle, ServerContext
from ..errors import InvalidReply
from ..messages import (
    build_websocket_connect,
    build_websocket_receive,
    choose_subprotocol,
    parse_ws_reply,
    unknown_keys,
)
from .masking import unmasker_for
from .outbound import OutboundBuffer

__all__ = ["WebSocketProtocol", "make_websocket_factory"]

logger = logging.getLogger("interface_server.websocket")

_WS_REPLY_KEYS = frozenset({"bytes", "text", "close", "accept", "subprotocol"})
#: Close codes that mean something went wrong (logged at info level).
_NOTABLE_CLOSES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, 1011, 1013})
#: Inbound messages that may wait for the layer before the socket stops being read.
_MAX_PENDING_MESSAGES = 64


def make_websocket_factory(config: ServerConfig) -> WebSocketServerFactory:
    """The autobahn factory shared by all WebSocket connections of a server."""
    factory = WebSocketServerFactory(server=config.server_name or None)
    factory.setProtocolOptions(
        maxMessagePayloadSize=config.max_ws_message_size,
        maxFramePayloadSize=config.max_ws_message_size,
        # Send a close frame (1009, 1007, 1002...) rather than dropping TCP, so clients
        # learn why; the close-handshake timer below bounds the wait.
        failByDrop=False,
        echoCloseCodeReason=True,
        # These autobahn timers would run on the global reactor; ours use the injected clock.
        openHandshakeTimeout=0,
        closeHandshakeTimeout=0,
        autoPingInterval=0,
        autoPingTimeout=0,
        # file:// pages send "Origin: null"; pass it on and let the app's validators decide.
        allowNullOrigin=True,
        # Client frames are unmasked by WebSocketProtocol.onFrameBegin (see .masking), which
        # is cheaper for small frames than autobahn's own masker; autobahn must not unmask too.
        # A server never masks what it sends, so this option changes nothing else.
        applyMask=False,
    )
    return factory


class WebSocketProtocol(WebSocketServerProtocol):
    """One WebSocket connection; see the module docstring.

    Args:
        ctx: the server's shared context.
        info: request data parsed by the HTTP protocol (path, headers, client...).
        pause_reading / resume_reading: stop/start reading the socket, with a reason.
    """

    def __init__(self, ctx: ServerContext, info: Any, pause_reading: Any,
                 resume_reading: Any) -> None:
        super().__init__()
        self.ctx = ctx
        self.config = ctx.config
        self.info = info
        self.machine = WebSocketMachine()
        self.outbound = OutboundBuffer(ctx.config.max_outbound_buffer, self._outbound_overflow)
        self.reply_channel: str | None = None
        self._pause_reading = pause_reading
        self._resume_reading = resume_reading
        self._handshake: Deferred[Any] | None = None
        self._connect_item: Handle | None = None
        self._offered: list[str] = []
        self._opened = False
        self._peer_sent_close = False
        self._peer_close_code: int | None = None
        self._local_close_code: int | None = None
        self._pending_bytes = 0
        self._pending_count = 0
        self._held_disconnect: dict[str, Any] | None = None
        self._last_inbound = ctx.clock.seconds()
        self._connect_call: Any = None
        self._lifetime_call: Any = None
        self._ping_call: Any = None
        self._pong_call: Any = None
        self._close_call: Any = None

    @property
    def path(self) -> str:
        """The decoded request path."""
        return str(self.info.path)

    def _details(self) -> dict[str, Any]:
        return {"path": self.path, "client": format_client(self.info.client)}

    # -- autobahn callbacks -----------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        """Note inbound activity (for pings), bound pre-handshake buffering, then parse."""
        self._last_inbound = self.ctx.clock.seconds()
        if self._pong_call is not None:
            _cancel(self._pong_call)
            self._pong_call = None
            self._arm_ping()
        # autobahn's Twisted adapter only adds a debug log line here, whose arguments it
        # formats (with colours) on every call even when debug logging is off: about a tenth
        # of the server's CPU time under load.  Go straight to the framing code.
        self._dataReceived(data)
        if (
            self.state == _AutobahnState.STATE_CONNECTING
            and len(self.data) > self.config.max_ws_message_size
        ):
            # Frames sent before the handshake completes are buffered by autobahn; stop
            # reading until the app has decided.
            self._pause_reading("ws-handshake")

    def sendData(self, data: bytes, sync: bool = False,  # noqa: N802
                 chopsize: int | None = None) -> None:
        """Write frames straight to the transport (see ``dataReceived`` for why)."""
        if sync or chopsize or self.send_queue or self.transport is None:
            super().sendData(data, sync, chopsize)
        else:
            self.transport.write(data)

    # autobahn's annotation says a plain value; it also accepts a Deferred, which is the point.
    def onConnect(self, request: Any) -> Deferred[Any]:  # type: ignore[override]  # noqa: N802
        """The upgrade request is valid: ask the app, hold the handshake until it answers."""
        if self.ctx.shutting_down:
            raise ConnectionDeny(503, "the server is shutting down")
        self._offered = list(request.protocols or [])
        self.reply_channel = self.ctx.new_reply_channel(self)
        self.ctx.stats.websocket_connects += 1
        self.ctx.log_action("websocket", "connecting", self._details())
        info = self.info
        message = build_websocket_connect(
            reply_channel=self.reply_channel,
            path=info.path,
            query_string=info.query_string,
            headers=info.headers,
            scheme="wss" if info.secure else "ws",
            root_path=info.root_path,
            client=info.client,
            server=info.server,
        )
        self._handshake = Deferred()
        self._connect_call = self.ctx.clock.callLater(
            self.config.websocket_connect_timeout, self._on_connect_timeout
        )
        self._connect_item = self.ctx.sender.send(
            "websocket.connect", dict(message), self._connect_done
        )
        return self._handshake

    def failHandshake(self, reason: str, code: int = 400,  # noqa: N802
                      responseHeaders: Any = None) -> None:  # noqa: N803
        """Refuse the opening handshake.  Autobahn calls this for upgrade requests it finds
        invalid (no key, unsupported version, HTTP/1.0...): those are logged, counted and
        access-logged here, and the client gets the standard reason phrase only (autobahn's
        text can quote request data).  The app's and the server's own refusals arrive here
        already logged, with the standard phrase."""
        if self.reply_channel is None:
            logger.info("Refused WebSocket handshake from %s for %s → %d: %s",
                        format_client(self.info.client), self.path, code, reason)
            self.ctx.stats.count_error(code)
            self.ctx.log_action("websocket", "rejected", self._details())
            reason = _phrase(code)
        super().failHandshake(reason, code, responseHeaders)

    def onOpen(self) -> None:  # noqa: N802
        """Handshake complete: start the lifetime and ping timers."""
        self._opened = True
        self._resume_reading("ws-handshake")
        self.ctx.log_action("websocket", "connected", self._details())
        clock = self.ctx.clock
        if self.config.websocket_timeout is not None:
            self._lifetime_call = clock.callLater(self.config.websocket_timeout,
                                                  self._on_lifetime_over)
        self._arm_ping()

    def onFrameBegin(self) -> None:  # noqa: N802
        """A client frame's header is parsed: unmask its payload with the cheaper masker.

        The factory turns autobahn's own unmasking off (``applyMask=False``), which leaves
        a pass-through masker here; frames without a mask (refused by autobahn as protocol
        errors) or without payload keep it.
        """
        frame = self.current_frame
        if frame.mask and frame.length > 0:
            self.current_frame_masker = unmasker_for(frame.mask, frame.length)
        super().onFrameBegin()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        """A complete client message (autobahn already checked size and UTF-8)."""
        data: str | bytes = payload if isBinary else payload.decode("utf-8")
        self._apply(self.machine.handle(ClientData(data)))

    def onCloseFrame(self, code: int | None, reasonRaw: bytes | None) -> Any:  # noqa: N802, N803
        """Remember the client's close code before autobahn answers it."""
        if self.state == _AutobahnState.STATE_OPEN:
            self._peer_sent_close = True
            self._peer_close_code = code
        return super().onCloseFrame(code, reasonRaw)  # type: ignore[arg-type]  # None: no code

    def sendCloseFrame(  # noqa: N802
        self, code: int | None = None, reasonUtf8: bytes | None = None,  # noqa: N803
                       isReply: bool = False) -> None:  # noqa: N803
        """Remember the code of a close we start, and bound the wait for the answer."""
        if not isReply and self.state == _AutobahnState.STATE_OPEN:
            self._local_close_code = code
            reason = (reasonUtf8 or b"").decode("utf-8", "replace")
            # Closes for bad frames (autobahn's own 1002/1007/1009) and for overload are worth
            # an info line; an app closing its socket is routine.
            logger.log(logging.INFO if code in _NOTABLE_CLOSES else logging.DEBUG,
                       "Closing WebSocket %s of %s with %s: %s", self.path,
                       format_client(self.info.client), code, reason)
            self._close_call = self.ctx.clock.callLater(
                self.config.close_handshake_timeout, self._on_close_timeout
            )
        super().sendCloseFrame(code=code, reasonUtf8=reasonUtf8, isReply=isReply)

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: N802
        """Send the one ``websocket.disconnect`` and release everything."""
        if reason is None:
            from twisted.internet.error import ConnectionDone

            reason = Failure(ConnectionDone())
        super().connectionLost(reason)
        for name in ("_connect_call", "_lifetime_call", "_ping_call", "_pong_call",
                     "_close_call"):
            _cancel(getattr(self, name))
            setattr(self, name, None)
        self._handshake = None
        self.outbound.clear()
        if self.reply_channel is not None:
            self._apply(self.machine.handle(ConnectionLost(
                peer_close_code=self._peer_close_code,
                peer_sent_close=self._peer_sent_close,
                local_close_code=self._local_close_code,
            )))
            self.ctx.release_reply_channel(self.reply_channel)
            if self._opened:
                self.ctx.log_action("websocket", "disconnected", self._details())

    # -- app and server events --------------------------------------------------------------------

    def handle_reply(self, message: dict[str, Any]) -> None:
        """Apply one Send/Close/Accept message from the reply channel."""
        try:
            reply = parse_ws_reply(message)
        except InvalidReply as exc:
            self.ctx.stats.invalid_replies += 1
            logger.error("Invalid WebSocket reply for %s: %s", self.path, exc)
            return
        extra = unknown_keys(message, _WS_REPLY_KEYS)
        if extra:
            logger.debug("Ignoring unknown keys in a WebSocket reply for %s: %s", self.path,
                         extra)
        if reply.ignored is not None:
            self.ctx.stats.invalid_replies += 1
            logger.warning("Ignoring a WebSocket reply for %s: %s", self.path, reply.ignored)
        self._apply(self.machine.handle(AppReply(reply)))

    def server_shutdown(self) -> None:
        """Close with 1001 (going away)."""
        self._apply(self.machine.handle(ServerClose(1001, "server shutting down")))

    def layer_reset(self) -> str:
        """The layer lost this socket's group memberships and replies: close with 1011."""
        self._apply(self.machine.handle(ServerClose(1011, "channel layer lost its data")))
        return "websocket"

    def abort(self) -> None:
        """Cut the connection now."""
        if self.transport is not None:
            cast(ITCPTransport, self.transport).abortConnection()

    def _connect_done(self, error: BaseException | None) -> None:
        if error is None:
            self._apply(self.machine.handle(ConnectAdmitted()))
            return
        logger.warning("Refusing WebSocket %s: websocket.connect not accepted by the layer (%s)",
                       self.path, error)
        self._apply(self.machine.handle(ServerClose(_close_code_for(error), str(error), 503)))

    def _on_connect_timeout(self) -> None:
        self._connect_call = None
        logger.warning("Rejecting WebSocket %s: no answer to websocket.connect within %gs",
                       self.path, self.config.websocket_connect_timeout)
        self._apply(self.machine.handle(ConnectTimeout()))

    def _on_lifetime_over(self) -> None:
        self._lifetime_call = None
        logger.info("Closing WebSocket %s: websocket_timeout reached", self.path)
        self._apply(self.machine.handle(ServerClose(1000, "websocket_timeout reached")))

    def _on_close_timeout(self) -> None:
        self._close_call = None
        logger.info("Dropping WebSocket %s: no close frame from the client", self.path)
        self.dropConnection(abort=True)

    def _outbound_overflow(self) -> None:
        logger.warning("Closing WebSocket %s of %s: the client does not read (more than %d "
                       "bytes waiting)", self.path, format_client(self.info.client),
                       self.config.max_outbound_buffer)
        self._apply(self.machine.handle(ServerClose(1013, "client too slow")))

    # -- pings ------------------------------------------------------------------------------------

    def _arm_ping(self) -> None:
        if self._ping_call is None:
            self._ping_call = self.ctx.clock.callLater(self.config.ping_interval,
                                                       self._ping_check)

    def _ping_check(self) -> None:
        # One timer, re-armed for the remaining time rather than reset on every frame.
        self._ping_call = None
        if self.state != _AutobahnState.STATE_OPEN:
            return
        silent = self.ctx.clock.seconds() - self._last_inbound
        if silent < self.config.ping_interval:
            self._ping_call = self.ctx.clock.callLater(self.config.ping_interval - silent,
                                                       self._ping_check)
            return
        self.sendPing()
        self._pong_call = self.ctx.clock.callLater(self.config.ping_timeout, self._on_pong_timeout)

    def _on_pong_timeout(self) -> None:
        self._pong_call = None
        logger.info("Dropping WebSocket %s: no answer to a ping within %gs", self.path,
                    self.config.ping_timeout)
        self.dropConnection(abort=True)

    # -- carrying out actions ---------------------------------------------------------------------

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, AcceptHandshake):
                self._accept(action)
            elif isinstance(action, RejectHandshake):
                self._reject(action)
            elif isinstance(action, SendFrame):
                self._send_frame(action.payload)
            elif isinstance(action, CloseSocket):
                self.outbound.submit_control(self._closer(action.code, action.reason))
            elif isinstance(action, ForwardReceive):
                self._forward(action)
            elif isinstance(action, ForwardDisconnect):
                self.ctx.stats.count_close(action.code)
                message = {"reply_channel": self.reply_channel, "code": action.code,
                           "path": self.path, "order": action.order}
                if self._pending_count:
                    # Frames of this socket still wait for the layer: the disconnect goes
                    # after them, so the app never sees it before the last receive.
                    self._held_disconnect = message
                else:
                    self.ctx.sender.send("websocket.disconnect", message, self._disconnect_done)
            elif isinstance(action, CancelConnect):
                if self._connect_item is not None:
                    self._connect_item.cancel()
            else:
                assert isinstance(action, Ignore)
                logger.debug("WebSocket %s: %s", self.path, action.reason)

    def _closer(self, code: int, reason: str) -> Callable[[], None]:
        return lambda: self._close(code, reason)

    def _accept(self, action: AcceptHandshake) -> None:
        _cancel(self._connect_call)
        self._connect_call = None
        protocol, warning = choose_subprotocol(self._offered, self.config.ws_protocols,
                                               action.subprotocol)
        if warning:
            logger.warning("WebSocket %s: %s", self.path, warning)
        handshake, self._handshake = self._handshake, None
        if handshake is not None:
            handshake.callback(protocol)

    def _reject(self, action: RejectHandshake) -> None:
        _cancel(self._connect_call)
        self._connect_call = None
        self.ctx.stats.websocket_rejects += 1
        logger.info("WebSocket %s rejected (%d): %s", self.path, action.status, action.reason)
        self.ctx.log_action("websocket", "rejected", self._details())
        handshake, self._handshake = self._handshake, None
        if handshake is not None:
            # The client gets the standard phrase only: the reason (channel names, layer
            # errors) is for the log, as with the HTTP error pages.
            handshake.errback(ConnectionDeny(action.status, _phrase(action.status)))

    def _send_frame(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            data, binary = payload.encode("utf-8"), False
        else:
            data, binary = payload, True

        def write() -> None:
            if self.state == _AutobahnState.STATE_OPEN:
                self.sendMessage(data, isBinary=binary)

        self.outbound.submit(len(data), write)

    def _close(self, code: int, reason: str) -> None:
        if self.state == _AutobahnState.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8")[:123],
                                isReply=False)
        elif self._handshake is not None:
            self._reject(RejectHandshake(500, reason))

    def _forward(self, action: ForwardReceive) -> None:
        message = build_websocket_receive(str(self.reply_channel), self.path, action.order,
                                          action.payload)
        size = len(action.payload)
        self._pending_bytes += size
        self._pending_count += 1
        if (self._pending_bytes > self.config.max_ws_message_size
                or self._pending_count > _MAX_PENDING_MESSAGES):
            self._pause_reading("ws")

        def done(error: BaseException | None) -> None:
            self._pending_bytes -= size
            self._pending_count -= 1
            if self._pending_count == 0 and self._held_disconnect is not None:
                held, self._held_disconnect = self._held_disconnect, None
                self.ctx.sender.send("websocket.disconnect", held, self._disconnect_done)
            if self._pending_count <= _MAX_PENDING_MESSAGES // 2 and (
                self._pending_bytes <= self.config.max_ws_message_size // 2
            ):
                self._resume_reading("ws")
            if error is not None:
                logger.warning("Closing WebSocket %s: websocket.receive not accepted by the "
                               "layer (%s)", self.path, error)
                self._apply(self.machine.handle(ServerClose(_close_code_for(error), str(error))))

        self.ctx.sender.send("websocket.receive", dict(message), done)

    def _disconnect_done(self, error: BaseException | None) -> None:
        if error is not None:
            self.ctx.stats.dropped_messages += 1
            logger.warning("Dropped websocket.disconnect for %s: %s", self.path, error)


def _close_code_for(error: BaseException) -> int:
    """Close code for a message the layer refused."""
    if isinstance(error, ChannelFull):
        return 1013  # try again later
    if isinstance(error, MessageTooLarge):
        return 1009
    if isinstance(error, LayerUnavailable):
        return 1011
    return 1011


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cancel(call: Any) -> None:
    if call is not None and call.active():
        call.cancel()
