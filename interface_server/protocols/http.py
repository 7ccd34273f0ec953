"""HTTP/1.x connections: h11 behind a Twisted protocol.

Theory of operation
-------------------
Bytes from the socket go into an ``h11.Connection`` (a bounded, pure HTTP/1.1 parser); its
events drive one *cycle* per request:

1. ``Request`` → checks (header count 431, path 400, ``Content-Length`` 413), then either the
   WebSocket upgrade (the head is handed to autobahn, see :mod:`.websocket`) or a new cycle
   with its own reply channel.
2. ``Data`` / ``EndOfMessage`` → a body up to ``body_chunk_size`` is sent inside
   ``http.request`` once complete; a larger one makes ``http.request`` leave early with a
   ``body_channel`` and the rest follows in chunks.  Reading pauses while body chunks wait
   for the layer.
3. Reply messages (``handle_reply``) go through :class:`~interface_server._http_state.
   HttpReplyMachine`, whose actions are written out through h11 and an
   :class:`~.outbound.OutboundBuffer` (Twisted producer/consumer flow control).
4. When the response is complete, h11 starts the next cycle and any pipelined request that
   was waiting in its buffer is processed.  While a request waits for its response, the socket
   keeps being read (so a client that leaves is noticed and ``http.disconnect`` sent), but
   reading pauses once more than one request head's worth of pipelined bytes is buffered.

Timers are per connection ``callLater`` calls on the injected clock: the request-head timer
(slow-loris guard, 408), the idle timer (silent keep-alive connection or stalled upload), and
``--http-timeout`` (the app has not started its response within it, counted from the end of
the request: 503; never after the response started).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast

import h11
from twisted.internet import address as taddress
from twisted.internet.interfaces import IConsumer, IPushProducer, ISSLTransport, ITCPTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from channels_classic.layers.base import ChannelFull, LayerUnavailable, MessageTooLarge

from .._http_state import (
    Abort,
    Action,
    Fail,
    Finish,
    HttpReplyMachine,
    Ignore,
    ReplyState,
    SendBody,
    SendError,
    StartResponse,
    Timeout,
)
from ..access import format_client
from ..context import Handle, ServerContext
from ..errors import ClientError, InvalidReply, error_response
from ..messages import (
    ResponseStart,
    build_http_request,
    clean_headers,
    decode_root_path,
    parse_http_reply,
    split_target,
    unknown_keys,
)
from ..proxy import resolve_forwarded
from .outbound import OutboundBuffer

__all__ = ["ConnectionInfo", "HttpFactory", "HttpProtocol"]

logger = logging.getLogger("interface_server.http")

_HTTP_REPLY_KEYS = frozenset({"status", "headers", "content", "more_content"})
#: Statuses whose responses never have a body (no Content-Length is added for them).
_NO_BODY_STATUSES = frozenset({204, 304})


def address_pair(addr: Any) -> list[Any] | None:
    """``[host, port]`` for a TCP address, None for UNIX sockets and the like."""
    if isinstance(addr, (taddress.IPv4Address, taddress.IPv6Address)):
        return [addr.host, addr.port]
    return None


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What one request looks like to the app (shared by HTTP and WebSocket)."""

    path: str
    query_string: bytes
    headers: list[list[bytes]]
    client: list[Any] | None
    server: list[Any] | None
    secure: bool
    root_path: str


@dataclass(eq=False)
class _Cycle:
    """One request/response exchange on a connection."""

    method: bytes
    http_version: bytes
    info: ConnectionInfo
    reply_channel: str
    started_at: float
    machine: HttpReplyMachine = field(default_factory=HttpReplyMachine)
    body: bytearray = field(default_factory=bytearray)
    body_received: int = 0
    body_done: bool = False
    body_channel: str | None = None
    body_in_flight: int = 0
    request_sent: bool = False
    request_item: Handle | None = None
    admitted: bool = False
    client_gone: bool = False
    disconnect_sent: bool = False
    response_done: bool = False
    status: int | None = None
    size: int = 0  # body bytes handed to the transport
    timeout_call: Any = None
    prepared: Any = None  # the h11.Response built (and validated) from the app's message
    #: Body length the response declared in ``content-length``, when it did.
    declared_length: int | None = None
    #: An HTTP/1.0 request with ``Connection: keep-alive`` (h11 only keeps HTTP/1.1
    #: connections open; see ``_next_cycle``); cleared when the response cannot allow it.
    keep_alive_10: bool = False
    logged: bool = False  # the access-log line was written

    @property
    def is_head(self) -> bool:
        return self.method == b"HEAD"

    @property
    def bodyless(self) -> bool:
        """The response must not have a body (HEAD, 204, 304): content is dropped."""
        return self.is_head or self.status in _NO_BODY_STATUSES


class _DateCache:
    """``Date`` header value, formatted at most once per second."""

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def get(self, now: float) -> bytes:
        second = int(now)
        if second != self.second:
            self.second = second
            self.value = formatdate(now, usegmt=True).encode("ascii")
        return self.value


_DATES = _DateCache()


@implementer(IPushProducer)
class HttpProtocol(Protocol):
    """One client connection speaking HTTP/1.x (until it upgrades to WebSocket)."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.conn = h11.Connection(
            h11.SERVER, max_incomplete_event_size=ctx.config.max_header_size
        )
        self.outbound = OutboundBuffer(ctx.config.max_outbound_buffer, self._outbound_overflow)
        self.ws: Any = None
        self.cycle: _Cycle | None = None
        self.client: list[Any] | None = None
        self.server: list[Any] | None = None
        self.secure = False
        self._read_pauses: set[str] = set()
        self._closing = False
        self._closed = False
        self._last_data = 0.0
        self._idle_call: Any = None
        self._head_call: Any = None
        self._head_started = False
        self._pipelined = 0
        #: Bytes after an HTTP/1.0 keep-alive request, held until its response is done.
        self._held = bytearray()
        #: Writes collected while one reply is applied (see ``_apply``), or None.
        self._corked: list[tuple[bytes, Callable[[], None] | None]] | None = None

    # -- Twisted entry points ---------------------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802
        """Set up flow control and the idle timer."""
        transport = self.transport
        assert transport is not None
        self.client = address_pair(transport.getPeer())
        self.server = address_pair(transport.getHost())
        self.secure = ISSLTransport.providedBy(transport)
        # Twisted already merges the writes of one reactor turn; Nagle would only delay the
        # chunks of a streamed response behind the client's delayed ACKs.
        set_no_delay = getattr(transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            with contextlib.suppress(OSError):
                set_no_delay(True)
        cast(IConsumer, transport).registerProducer(self, True)
        self.ctx.connections.add(self)
        self._last_data = self.ctx.clock.seconds()
        if self.ctx.shutting_down:
            transport.loseConnection()
            return
        self._arm_idle()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        """Feed h11 (or the WebSocket, after an upgrade)."""
        if self.ws is not None:
            self.ws.dataReceived(data)
            return
        if self._closed or (self._closing and self.cycle is None):
            return
        self._last_data = self.ctx.clock.seconds()
        cycle = self.cycle
        if self.conn.their_state is h11.MUST_CLOSE:
            # The client's last request is in ("Connection: close", or HTTP/1.0).  h11 treats
            # more bytes as an error, which would kill the response being prepared; RFC 7230
            # §6.6 says to ignore them instead.  An HTTP/1.0 keep-alive client's next request
            # is kept for when this response is done.
            if cycle is not None and cycle.keep_alive_10:
                self._held.extend(data)
                if len(self._held) > self.config.max_header_size:
                    self._pause_reading("pipeline")
            return
        if cycle is None:
            if not self._head_started:
                self._start_head_timer()
        elif cycle.body_done:
            # Pipelined bytes while this request waits for its response.
            self._pipelined += len(data)
            if self._pipelined > self.config.max_header_size:
                self._pause_reading("pipeline")
        self.conn.receive_data(data)
        self._process()

    def connectionLost(self, reason: Failure | None = None) -> None:  # noqa: N802
        """Tell the app if a response was cut short; release everything."""
        self._closed = True
        self._cancel_timers()
        if self.ws is not None:
            self.ws.connectionLost(reason)
        else:
            cycle = self.cycle
            if cycle is not None and not cycle.response_done:
                if self._sent_in_full(cycle):
                    self._complete_on_wire(cycle)
                else:
                    self._end_unfinished(cycle, "client disconnected")
        self.ctx.connection_closed(self)

    # IPushProducer: called by the transport about *our writes*.
    def pauseProducing(self) -> None:  # noqa: N802
        """The transport's write buffer is full: hold further writes."""
        if self.ws is not None:
            self.ws.outbound.pause()
        else:
            self.outbound.pause()

    def resumeProducing(self) -> None:  # noqa: N802
        """The transport drained: release held writes."""
        if self.ws is not None:
            self.ws.outbound.resume()
        else:
            self.outbound.resume()

    def stopProducing(self) -> None:  # noqa: N802
        """The transport is going away; ``connectionLost`` follows."""

    # -- server-wide events -----------------------------------------------------------------------

    def server_shutdown(self) -> None:
        """Stop accepting requests: idle connections close now, busy ones after the response."""
        if self.ws is not None:
            self.ws.server_shutdown()
            return
        self._closing = True
        if self.cycle is None and self.transport is not None:
            self.transport.loseConnection()

    def layer_reset(self) -> str:
        """The layer lost its data: fail a request waiting for it (503 or cut)."""
        if self.ws is not None:
            return str(self.ws.layer_reset())
        cycle = self.cycle
        if cycle is None or not cycle.request_sent or cycle.response_done:
            return ""
        self._apply(cycle, cycle.machine.handle(Fail(503, "the channel layer lost its data")))
        return "http"

    def abort(self) -> None:
        """Cut the connection now (end of the shutdown grace period)."""
        if self.transport is not None:
            cast(ITCPTransport, self.transport).abortConnection()

    # -- reading ----------------------------------------------------------------------------------

    def _pause_reading(self, reason: str) -> None:
        if not self._read_pauses and self.transport is not None:
            cast(IPushProducer, self.transport).pauseProducing()
        self._read_pauses.add(reason)

    def _resume_reading(self, reason: str) -> None:
        if reason in self._read_pauses:
            self._read_pauses.discard(reason)
            if not self._read_pauses and self.transport is not None and not self._closed:
                cast(IPushProducer, self.transport).resumeProducing()

    def _process(self) -> None:
        while not self._closed and self.ws is None:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                self._client_error(status, f"malformed request: {exc}")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                try:
                    self._on_request(event)
                except ClientError as exc:
                    self._client_error(exc.status, str(exc))
                    return
            elif isinstance(event, h11.Data):
                self._on_body(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._on_body_end()
            elif isinstance(event, h11.ConnectionClosed):
                if self.transport is not None:
                    self.transport.loseConnection()
                return

    def _on_request(self, event: h11.Request) -> None:
        self._cancel_head_timer()
        config = self.config
        raw_headers = list(event.headers)
        if len(raw_headers) > config.max_header_count:
            raise ClientError(f"{len(raw_headers)} header lines (limit {config.max_header_count})",
                              431)
        path, query = split_target(event.target)
        headers, root_header, dropped = clean_headers(raw_headers)
        if dropped:
            logger.debug("Dropped %d header(s) with '_' in the name", dropped)
        forwarded = resolve_forwarded(
            self.client, self.secure, headers, config.trusted_proxies, config.proxy_headers
        )
        root_path = config.root_path
        if root_header is not None and config.root_path_header:
            root_path = decode_root_path(root_header)
        info = ConnectionInfo(path, query, headers, forwarded.client, self.server,
                              forwarded.secure, root_path)
        if _is_websocket_upgrade(event, raw_headers):
            self._upgrade(event, info)
            return
        if self.ctx.shutting_down:
            raise ClientError("the server is shutting down", 503)
        length = _content_length(raw_headers)
        if config.max_body_size and length is not None and length > config.max_body_size:
            raise ClientError(
                f"Content-Length {length} exceeds the limit of {config.max_body_size} bytes", 413
            )
        cycle = _Cycle(
            method=event.method,
            http_version=event.http_version,
            info=info,
            reply_channel=self.ctx.new_reply_channel(self),
            started_at=self.ctx.clock.seconds(),
            keep_alive_10=event.http_version == b"1.0" and _has_token(
                raw_headers, b"connection", b"keep-alive"),
        )
        self.cycle = cycle
        self.ctx.stats.http_requests += 1
        if self.conn.they_are_waiting_for_100_continue:
            self._send_h11(h11.InformationalResponse(status_code=100, headers=[],
                                                     reason=b"Continue"))

    def _on_body(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is None:
            return
        cycle.body_received += len(data)
        limit = self.config.max_body_size
        if limit and cycle.body_received > limit:
            self._body_too_large(cycle)
            return
        if cycle.response_done or cycle.client_gone:
            return  # the app answered early; discard the rest of the upload
        cycle.body.extend(data)
        chunk = self.config.body_chunk_size
        if not cycle.request_sent and len(cycle.body) > chunk:
            first = bytes(cycle.body[:chunk])
            del cycle.body[:chunk]
            cycle.body_channel = self.ctx.new_body_channel()
            self._send_request(cycle, first)
        if cycle.request_sent:
            while len(cycle.body) >= chunk:
                piece = bytes(cycle.body[:chunk])
                del cycle.body[:chunk]
                self._send_body_chunk(cycle, piece, more=True)

    def _on_body_end(self) -> None:
        cycle = self.cycle
        if cycle is None:
            return
        cycle.body_done = True
        if cycle.response_done:
            self._next_cycle()
            return
        if not cycle.request_sent:
            body = bytes(cycle.body)
            cycle.body.clear()
            self._send_request(cycle, body)
        elif cycle.body_channel is not None:
            piece = bytes(cycle.body)
            cycle.body.clear()
            self._send_body_chunk(cycle, piece, more=False)
            self._arm_http_timeout(cycle)

    def _body_too_large(self, cycle: _Cycle) -> None:
        reason = f"request body exceeds the limit of {self.config.max_body_size} bytes"
        cycle.body.clear()
        if not cycle.request_sent:
            self._client_error(413, reason)
        else:
            self._apply(cycle, cycle.machine.handle(Fail(413, reason)))

    # -- sending to the app -----------------------------------------------------------------------

    def _send_request(self, cycle: _Cycle, body: bytes) -> None:
        info = cycle.info
        message = build_http_request(
            reply_channel=cycle.reply_channel,
            method=cycle.method,
            http_version=cycle.http_version,
            path=info.path,
            query_string=info.query_string,
            headers=info.headers,
            scheme="https" if info.secure else "http",
            root_path=info.root_path,
            client=info.client,
            server=info.server,
            body=body,
            body_channel=cycle.body_channel,
        )
        cycle.request_sent = True
        cycle.request_item = self.ctx.sender.send(
            "http.request", dict(message), lambda error: self._request_done(cycle, error)
        )
        if cycle.body_done:
            self._arm_http_timeout(cycle)

    def _arm_http_timeout(self, cycle: _Cycle) -> None:
        """Start ``--http-timeout`` once the whole request is in: an app cannot be expected
        to answer an upload that is still arriving (that is bounded by ``--idle-timeout``)."""
        if self.config.http_timeout is not None and not cycle.machine.started:
            cycle.timeout_call = self.ctx.clock.callLater(
                self.config.http_timeout, self._http_timeout, cycle
            )

    def _request_done(self, cycle: _Cycle, error: BaseException | None) -> None:
        if error is None:
            cycle.admitted = True
            if cycle.client_gone:
                self._send_disconnect(cycle)
            return
        if cycle.client_gone or cycle.response_done:
            return
        self._apply(cycle, cycle.machine.handle(_fail_for(error, "http.request")))

    def _send_body_chunk(self, cycle: _Cycle, content: bytes, more: bool) -> None:
        assert cycle.body_channel is not None
        cycle.body_in_flight += len(content) or 1
        size = len(content) or 1
        if cycle.body_in_flight > 2 * self.config.body_chunk_size:
            self._pause_reading("body")

        def done(error: BaseException | None) -> None:
            cycle.body_in_flight -= size
            if cycle.body_in_flight <= self.config.body_chunk_size:
                self._resume_reading("body")
            if error is not None and not cycle.response_done and not cycle.client_gone:
                self._apply(cycle, cycle.machine.handle(_fail_for(error, "request body")))

        self.ctx.sender.send(cycle.body_channel, {"content": content, "more_content": more},
                             done)

    def _send_disconnect(self, cycle: _Cycle) -> None:
        if cycle.disconnect_sent:
            return
        cycle.disconnect_sent = True
        if cycle.body_channel is not None and not cycle.body_done:
            self.ctx.sender.send(cycle.body_channel, {"closed": True})
        self.ctx.stats.http_disconnects += 1
        self.ctx.sender.send(
            "http.disconnect",
            {"reply_channel": cycle.reply_channel, "path": cycle.info.path},
            _log_dropped(self.ctx, "http.disconnect"),
        )

    def _end_unfinished(self, cycle: _Cycle, why: str) -> None:
        """The response will not be completed: tell the app if it has the request."""
        cycle.client_gone = True
        self._cancel_cycle_timer(cycle)
        self.ctx.release_reply_channel(cycle.reply_channel)
        if cycle.status is not None:
            # A response that started and was cut still gets its access-log line, with the
            # body bytes that were actually sent.
            self._log_complete(cycle)
        if not cycle.request_sent:
            return
        if cycle.admitted:
            self._send_disconnect(cycle)
        elif cycle.request_item is not None:
            # Still waiting for the layer: withdraw it; if it is already on its way,
            # _request_done sends the disconnect once it lands.
            cycle.request_item.cancel()
        logger.debug("Request %s %s ended early: %s", cycle.method.decode(), cycle.info.path, why)

    # -- replies from the app ---------------------------------------------------------------------

    def handle_reply(self, message: dict[str, Any]) -> None:
        """Apply one message from the current request's reply channel."""
        cycle = self.cycle
        if cycle is None or cycle.response_done:
            self.ctx.stats.unknown_replies += 1
            return
        try:
            reply = parse_http_reply(message)
            if isinstance(reply, ResponseStart):
                reply = self._prepare_response(cycle, reply)
        except InvalidReply as exc:
            self.ctx.stats.invalid_replies += 1
            logger.error("Invalid reply for %s %s: %s", cycle.method.decode(), cycle.info.path,
                         exc)
            self._apply(cycle, cycle.machine.handle(Fail(500, f"invalid reply: {exc}")))
            return
        extra = unknown_keys(message, _HTTP_REPLY_KEYS)
        if extra:
            logger.debug("Ignoring unknown keys in an HTTP reply: %s", extra)
        self._apply(cycle, cycle.machine.handle(reply))

    def _prepare_response(self, cycle: _Cycle, reply: ResponseStart) -> ResponseStart:
        """Add the headers the server owns, and check the result with h11."""
        headers = list(reply.headers)
        names = {name for name, _ in headers}
        if b"date" not in names:
            headers.append((b"date", _DATES.get(self.ctx.clock.seconds())))
        if (
            not reply.more_content
            and b"content-length" not in names
            and b"transfer-encoding" not in names
            and reply.status not in _NO_BODY_STATUSES
            and not cycle.is_head
        ):
            headers.append((b"content-length", str(len(reply.content)).encode("ascii")))
        if self._closing or self.ctx.shutting_down:
            headers.append((b"connection", b"close"))
        if cycle.keep_alive_10:
            # An HTTP/1.0 client can only reuse the connection if it can tell where the body
            # ends: a content-length, or no body at all.
            framed = cycle.bodyless or reply.status in _NO_BODY_STATUSES or any(
                name == b"content-length" for name, _ in headers)
            cycle.keep_alive_10 = framed and not (self._closing or self.ctx.shutting_down) and (
                not _has_token(headers, b"connection", b"close"))
        if reply.status < 200:
            raise InvalidReply(f"status {reply.status} is not a final response status")
        try:
            # Built once here: constructing it is h11's header validation.
            cycle.prepared = h11.Response(status_code=reply.status, headers=headers,
                                          reason=_phrase(reply.status).encode("ascii"))
        except h11.LocalProtocolError as exc:
            raise InvalidReply(str(exc)) from None
        # h11 has checked that every content-length value is the same number.
        cycle.declared_length = _content_length(headers)
        return ResponseStart(reply.status, tuple(headers), reply.content, reply.more_content)

    def _apply(self, cycle: _Cycle, actions: list[Action]) -> None:
        # A reply's head, body and end go out in one write: one system call and one segment
        # (the transport sends at once when nothing is queued, see ``interface_server.eager``).
        self._corked = []
        try:
            self._apply_actions(cycle, actions)
        finally:
            self._uncork()

    def _uncork(self) -> None:
        corked, self._corked = self._corked, None
        if not corked:
            return
        if len(corked) == 1:
            self._write(*corked[0])
            return
        callbacks = [on_written for _, on_written in corked if on_written is not None]

        def written() -> None:
            for callback in callbacks:
                callback()

        self._write(b"".join(data for data, _ in corked), written if callbacks else None)

    def _apply_actions(self, cycle: _Cycle, actions: list[Action]) -> None:
        for action in actions:
            if self._closed and not isinstance(action, Ignore):
                return
            if not isinstance(action, (StartResponse, SendBody, Finish)):
                # Anything else may close or abort the connection: send what is collected.
                self._uncork()
            if isinstance(action, StartResponse):
                self._cancel_cycle_timer(cycle)
                cycle.status = action.status
                response = cycle.prepared or h11.Response(
                    status_code=action.status, headers=list(action.headers),
                    reason=_phrase(action.status).encode("ascii"))
                self._send_h11(response)
            elif isinstance(action, SendBody):
                if not cycle.bodyless and not self._send_h11(
                    h11.Data(data=action.data), _counter(cycle, len(action.data))
                ):
                    return
            elif isinstance(action, Finish):
                sent = self._send_h11(h11.EndOfMessage())
                self._uncork()
                if sent:
                    self._finish_cycle(cycle)
            elif isinstance(action, SendError):
                self._cancel_cycle_timer(cycle)
                logger.warning("%s %s → %d: %s", cycle.method.decode(), cycle.info.path,
                               action.status, action.reason)
                cycle.status = action.status
                self._end_unfinished(cycle, action.reason)
                cycle.response_done = True
                self._log_complete(cycle)
                self._error_page(action.status, head=cycle.is_head)
            elif isinstance(action, Abort):
                logger.warning("Cutting %s %s: %s", cycle.method.decode(), cycle.info.path,
                               action.reason)
                self._end_unfinished(cycle, action.reason)
                cycle.response_done = True
                self.abort()
            else:
                logger.debug("%s %s: %s", cycle.method.decode(), cycle.info.path, action.reason)

    def _send_h11(self, event: Any, on_written: Callable[[], None] | None = None) -> bool:
        try:
            data = self.conn.send(event)
        except h11.LocalProtocolError as exc:
            cycle = self.cycle
            logger.error("Cannot send the response: %s", exc)
            if cycle is not None:
                self._end_unfinished(cycle, str(exc))
                cycle.response_done = True
            self.abort()
            return False
        if data:
            if isinstance(event, (h11.Response, h11.InformationalResponse)):
                data = _lower_header_names(data)
                cycle = self.cycle
                if cycle is not None and cycle.keep_alive_10:
                    # h11 marks every HTTP/1.0 response "close"; this one keeps the connection.
                    data = data.replace(b"\r\nconnection: close\r\n",
                                        b"\r\nconnection: keep-alive\r\n", 1)
            self._write(data, on_written)
        return True

    def _sent_in_full(self, cycle: _Cycle) -> bool:
        """True when the client has every byte of the response although the app has not
        sent its last message yet: a bodyless response whose head went out, or a streamed
        response whose ``content-length`` bytes all went out.  A client that leaves in the
        middle of its own upload has abandoned the request, whatever it received."""
        if cycle.status is None or cycle.machine.state is not ReplyState.BODY:
            return False
        if not cycle.body_done:
            return False
        if cycle.bodyless:
            return True
        return cycle.declared_length is not None and cycle.size >= cycle.declared_length

    def _complete_on_wire(self, cycle: _Cycle) -> None:
        """The client left after receiving the whole response (it had all the bytes the
        ``content-length`` promised): the request is complete, not cut, so it gets its
        access-log line and no ``http.disconnect``; the app's closing message is dropped."""
        cycle.response_done = True
        self._cancel_cycle_timer(cycle)
        self.ctx.release_reply_channel(cycle.reply_channel)
        self.ctx.stats.http_responses += 1
        self._log_complete(cycle)
        logger.debug("%s %s: the client left after the whole response, before the app's "
                     "last message", cycle.method.decode(), cycle.info.path)

    def _finish_cycle(self, cycle: _Cycle) -> None:
        cycle.response_done = True
        self._cancel_cycle_timer(cycle)
        self.ctx.release_reply_channel(cycle.reply_channel)
        self.ctx.stats.http_responses += 1
        self._log_complete(cycle)
        if self._closing or (self.conn.our_state is h11.MUST_CLOSE and not cycle.keep_alive_10):
            self._close_after_flush()
            return
        if cycle.body_done:
            self._next_cycle()
            return
        self._resume_reading("body")
        # Otherwise the app answered before the upload ended: the rest of the body is read
        # and discarded, and the next cycle starts at its end (see _on_body_end).

    def _next_cycle(self) -> None:
        cycle, self.cycle = self.cycle, None
        if cycle is not None and cycle.keep_alive_10 and self.conn.our_state is h11.MUST_CLOSE:
            # h11 never reuses an HTTP/1.0 connection; a fresh parser takes the next request.
            held, self._held = bytes(self._held), bytearray()
            self.conn = h11.Connection(
                h11.SERVER, max_incomplete_event_size=self.config.max_header_size
            )
            if held:
                self.conn.receive_data(held)
        else:
            try:
                self.conn.start_next_cycle()
            except h11.LocalProtocolError:
                self._close_after_flush()
                return
        self._pipelined = 0
        self._head_started = False
        self._resume_reading("pipeline")
        self._resume_reading("body")
        self._arm_idle()
        if self.conn.trailing_data[0]:
            self._start_head_timer()
        self._process()

    def _log_complete(self, cycle: _Cycle) -> None:
        if cycle.logged:
            return
        cycle.logged = True
        self.ctx.log_action(
            "http",
            "complete",
            {
                "path": cycle.info.path,
                "status": cycle.status,
                "method": cycle.method.decode("ascii", "replace"),
                "client": format_client(cycle.info.client),
                "time_taken": self.ctx.clock.seconds() - cycle.started_at,
                "size": cycle.size,
            },
        )

    # -- errors and closing -----------------------------------------------------------------------

    def _client_error(self, status: int, reason: str) -> None:
        """The client's fault: log, answer ``status`` if nothing was sent yet, close."""
        logger.info("Bad request from %s → %d: %s", format_client(self.client), status, reason)
        cycle = self.cycle
        self._cancel_head_timer()
        if cycle is not None:
            if cycle.machine.started:
                self.abort()
                return
            self._apply(cycle, cycle.machine.handle(Fail(status, reason)))
            return
        self._error_page(status, head=False)
        self.ctx.log_action("http", "complete", {
            "path": "-", "status": status, "method": "-",
            "client": format_client(self.client), "time_taken": 0.0, "size": 0,
        })

    def _error_page(self, status: int, head: bool) -> None:
        self.ctx.stats.count_error(status)
        _, headers, body = error_response(status)
        lines = [f"HTTP/1.1 {status} {_phrase(status)}".encode("ascii")]
        lines += [name + b": " + value for name, value in headers]
        lines.append(b"date: " + _DATES.get(self.ctx.clock.seconds()))
        payload = b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body)
        self._closing = True
        self.outbound.clear()
        self.outbound.paused = False
        self._write(payload)
        self._close_after_flush()

    def _write(self, data: bytes, on_written: Callable[[], None] | None = None) -> None:
        if self._corked is not None:
            self._corked.append((data, on_written))
            return
        transport = self.transport
        if transport is None or self._closed:
            return
        if on_written is None:
            self.outbound.submit(len(data), lambda: transport.write(data))
            return

        def write() -> None:
            transport.write(data)
            on_written()

        self.outbound.submit(len(data), write)

    def _close_after_flush(self) -> None:
        self._closing = True
        transport = self.transport
        if transport is not None:
            self.outbound.submit_control(transport.loseConnection)

    def _outbound_overflow(self) -> None:
        cycle = self.cycle
        logger.warning("Closing the connection of %s: the client does not read its response "
                       "(more than %d bytes waiting)", format_client(self.client),
                       self.config.max_outbound_buffer)
        if cycle is not None and not cycle.response_done:
            self._end_unfinished(cycle, "outbound buffer full")
            cycle.response_done = True
        self.abort()

    # -- timers -----------------------------------------------------------------------------------

    def _http_timeout(self, cycle: _Cycle) -> None:
        cycle.timeout_call = None
        if cycle is self.cycle and not cycle.response_done:
            self._apply(cycle, cycle.machine.handle(Timeout()))

    def _cancel_cycle_timer(self, cycle: _Cycle) -> None:
        if cycle.timeout_call is not None and cycle.timeout_call.active():
            cycle.timeout_call.cancel()
        cycle.timeout_call = None

    def _start_head_timer(self) -> None:
        self._head_started = True
        if self._head_call is None:
            self._head_call = self.ctx.clock.callLater(
                self.config.request_head_timeout, self._head_timeout
            )

    def _cancel_head_timer(self) -> None:
        if self._head_call is not None and self._head_call.active():
            self._head_call.cancel()
        self._head_call = None

    def _head_timeout(self) -> None:
        self._head_call = None
        if self.cycle is None and self.ws is None and not self._closed:
            self._client_error(408, "request head not received in time")

    def _waiting_on_client(self) -> bool:
        cycle = self.cycle
        return cycle is None or not cycle.body_done

    def _arm_idle(self) -> None:
        if self._idle_call is None:
            self._idle_call = self.ctx.clock.callLater(self.config.idle_timeout, self._idle_check)

    def _idle_check(self) -> None:
        # One timer per connection, re-armed for the remaining time instead of being reset on
        # every read: a busy connection costs no timer operations.
        self._idle_call = None
        if self._closed or self.ws is not None or not self._waiting_on_client():
            return
        if self._read_pauses:  # we stopped reading; silence is ours
            self._arm_idle()
            return
        silent = self.ctx.clock.seconds() - self._last_data
        if silent < self.config.idle_timeout:
            self._idle_call = self.ctx.clock.callLater(
                self.config.idle_timeout - silent, self._idle_check
            )
            return
        cycle = self.cycle
        if cycle is None and not self._head_started:
            logger.debug("Closing idle connection from %s", format_client(self.client))
            if self.transport is not None:
                self.transport.loseConnection()
            return
        self._client_error(408, "the client stopped sending its request")

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.cancel()
        self._idle_call = None
        if self.cycle is not None:
            self._cancel_cycle_timer(self.cycle)

    # -- WebSocket upgrade ------------------------------------------------------------------------

    def _upgrade(self, event: h11.Request, info: ConnectionInfo) -> None:
        from .websocket import WebSocketProtocol

        if self.ctx.shutting_down:
            raise ClientError("the server is shutting down", 503)
        trailing, _ = self.conn.trailing_data
        head = [event.method + b" " + event.target + b" HTTP/" + event.http_version]
        head += [name + b": " + value for name, value in event.headers.raw_items()]
        raw = b"\r\n".join(head) + b"\r\n\r\n"
        self._cancel_timers()
        protocol = WebSocketProtocol(self.ctx, info, self._pause_reading, self._resume_reading)
        protocol.factory = self.ctx.ws_factory
        self.ws = protocol
        protocol.makeConnection(self.transport)
        protocol.dataReceived(raw + trailing)


def _counter(cycle: _Cycle, size: int) -> Callable[[], None]:
    """Adds ``size`` to the body bytes of ``cycle`` once they reach the transport (bytes
    held for a slow reader and then dropped are not counted as sent)."""

    def written() -> None:
        cycle.size += size

    return written


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _lower_header_names(head: bytes) -> bytes:
    """Lower-case the header names of a serialized response head.

    The app's names are already lower-case; h11 title-cases the framing headers it adds
    (``Transfer-Encoding``, ``Connection``), and responses go out with lower-case names.
    """
    lines = head.split(b"\r\n")
    for index in range(1, len(lines)):
        name, sep, rest = lines[index].partition(b":")
        if sep:
            lines[index] = name.lower() + sep + rest
    return b"\r\n".join(lines)


def _is_websocket_upgrade(event: h11.Request, headers: list[tuple[bytes, bytes]]) -> bool:
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade" and b"websocket" in value.lower():
            upgrade = True
        elif name == b"connection" and b"upgrade" in value.lower():
            connection = True
    return upgrade and connection and event.method == b"GET"


def _has_token(headers: Any, name: bytes, token: bytes) -> bool:
    """True if a ``name`` header (lower-case name) lists ``token`` (case-insensitive)."""
    return any(
        header == name and token in (part.strip() for part in value.lower().split(b","))
        for header, value in headers
    )


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _fail_for(error: BaseException, what: str) -> Fail:
    """Map a refusal from the layer to the error the client gets."""
    if isinstance(error, ChannelFull):
        return Fail(503, f"{what}: channel layer full ({error})")
    if isinstance(error, LayerUnavailable):
        return Fail(503, f"{what}: channel layer unavailable ({error})")
    if isinstance(error, MessageTooLarge):
        return Fail(413, f"{what}: message too large for the channel layer")
    return Fail(500, f"{what}: channel layer refused the message ({error})")


def _log_dropped(ctx: ServerContext, what: str) -> Any:
    def done(error: BaseException | None) -> None:
        if error is not None:
            ctx.stats.dropped_messages += 1
            logger.warning("Dropped %s: %s", what, error)

    return done


class HttpFactory(Factory):
    """Builds :class:`HttpProtocol` instances sharing one :class:`ServerContext`."""

    noisy = False

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def buildProtocol(self, addr: Any) -> HttpProtocol:  # noqa: N802
        """A protocol for a new connection."""
        protocol = HttpProtocol(self.ctx)
        protocol.factory = self
        return protocol
