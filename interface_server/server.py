"""The embeddable server: listening endpoints, layer I/O, graceful shutdown.

Typical use (what the command line does)::

    from interface_server import Server, ServerConfig, install_reactor
    reactor = install_reactor()                 # Twisted on asyncio, before anything else
    server = Server(ServerConfig(endpoints=("tcp:8000",)), channel_layer, reactor=reactor)
    sys.exit(server.run())                      # SIGTERM/SIGINT → graceful stop → 0

``runserver`` embeds it without signal handlers (its autoreloader owns them) with
``server.run(install_signal_handlers=False)``, or calls :meth:`Server.start` and
:meth:`Server.stop` itself on a reactor it runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from twisted.internet import address as taddress
from twisted.internet.defer import Deferred, DeferredList, gatherResults
from twisted.internet.interfaces import IListeningPort
from twisted.python.failure import Failure

from channels_classic.layers.base import new_process_prefix

from .access import ActionLogger
from .config import ConfigError, ServerConfig
from .context import ServerContext
from .endpoints import listen
from .layer_io import LayerHealth, LayerReader, LayerSender, Runner, asyncio_runner
from .protocols.http import HttpFactory
from .protocols.websocket import make_websocket_factory

__all__ = ["Server", "install_reactor"]

logger = logging.getLogger("interface_server")

#: Seconds between checks that the layer still has its data (one cheap call; 0 disables).
LAYER_CHECK_INTERVAL = 5.0
#: Seconds given to the last messages (disconnects) to reach the layer at shutdown.
FINAL_FLUSH_TIMEOUT = 2.0


def install_reactor() -> Any:
    """Install Twisted's asyncio reactor (if no reactor is installed yet) and return it.

    Raises:
        ConfigError: another reactor was installed first; the server needs the asyncio one
            because it calls the layer's asyncio API.
    """
    if "twisted.internet.reactor" not in sys.modules:
        from twisted.internet import asyncioreactor

        asyncioreactor.install(asyncio.new_event_loop())
    from twisted.internet import reactor

    if getattr(reactor, "_asyncioEventloop", None) is None:
        raise ConfigError(
            f"the interface server needs Twisted's asyncio reactor, but {type(reactor).__name__}"
            " is installed; call interface_server.install_reactor() before importing "
            "twisted.internet.reactor"
        )
    return reactor


def _describe(port: IListeningPort) -> str:
    host = port.getHost()
    if isinstance(host, taddress.IPv6Address):
        return f"[{host.host}]:{host.port}"
    if isinstance(host, taddress.IPv4Address):
        return f"{host.host}:{host.port}"
    if isinstance(host, taddress.UNIXAddress):
        name = host.name.decode() if isinstance(host.name, bytes) else host.name
        return f"unix:{name}"
    return str(host)


class Server:
    """An interface server bound to one channel layer.

    Args:
        config: the validated configuration.
        channel_layer: any channels_classic layer (async API: ``send_many_async``,
            ``fetch_async``, ``identity_async``, ``new_channel``).
        reactor: the Twisted reactor; by default the installed one (see
            :func:`install_reactor`).  It must be the asyncio reactor unless ``runner`` is
            given.
        action_logger: ``callable(protocol, action, details)`` for access logging.
        runner: turns layer coroutines into Deferreds (tests); defaults to the reactor's
            asyncio loop.
        layer_check_interval: seconds between data-loss checks of the layer.
    """

    def __init__(
        self,
        config: ServerConfig,
        channel_layer: Any,
        reactor: Any = None,
        action_logger: ActionLogger | None = None,
        *,
        runner: Runner | None = None,
        layer_check_interval: float = LAYER_CHECK_INTERVAL,
    ) -> None:
        if reactor is None:
            reactor = install_reactor()
        if runner is None:
            loop = getattr(reactor, "_asyncioEventloop", None)
            if loop is None:
                raise ConfigError("Server needs the asyncio reactor (or an explicit runner)")
            runner = asyncio_runner(loop)
        self.config = config
        self.layer = channel_layer
        self.reactor = reactor
        self.prefix = new_process_prefix("interface")
        self.health = LayerHealth(channel_layer, reactor, runner, self._layer_reset,
                                  check_interval=layer_check_interval)
        self.sender = LayerSender(
            channel_layer,
            reactor,
            runner,
            admission_timeout=config.admission_timeout,
            queue_limit=config.admission_queue_limit,
            on_unavailable=self.health.note_unavailable,
        )
        import txaio

        # autobahn creates a timer helper on the global reactor unless told which one to use.
        txaio_config = getattr(txaio, "config")  # noqa: B009 (missing from txaio's stubs)
        if txaio_config.loop is None:
            txaio_config.loop = reactor
        self.ctx = ServerContext(
            config=config,
            clock=reactor,
            sender=self.sender,
            new_body_channel=lambda: channel_layer.new_channel("http.request.body?"),
            prefix=self.prefix,
            action_logger=action_logger,
            ws_factory=make_websocket_factory(config),
        )
        self.ctx.on_connection_closed = self._connection_closed
        self.reader = LayerReader(channel_layer, [self.prefix], self.ctx.dispatch, reactor,
                                  runner, batch=config.reader_batch, health=self.health)
        self.factory = HttpFactory(self.ctx)
        self.ports: list[IListeningPort] = []
        self.addresses: list[str] = []
        self.exit_code = 0
        self._stopping: Deferred[None] | None = None
        self._drained: Deferred[None] | None = None

    @property
    def stats(self) -> Any:
        """Protocol counters (:class:`~interface_server.context.ServerStats`)."""
        return self.ctx.stats

    # -- starting ---------------------------------------------------------------------------------

    def start(self) -> Deferred[list[IListeningPort]]:
        """Listen on every endpoint and start reading the process channel.

        The Deferred fires with the listening ports, or fails (``CannotListenError``,
        :class:`ConfigError`) after closing the ports that did open.
        """
        attempts = [listen(self.reactor, description, self.factory)
                    for description in self.config.endpoints]
        done: Deferred[Any] = DeferredList(attempts, consumeErrors=True)

        def opened(results: list[tuple[bool, Any]]) -> Any:
            failures = [value for ok, value in results if not ok]
            ports = [value for ok, value in results if ok]
            if failures:
                closing = [maybe_stop(port) for port in ports]
                d = gatherResults(closing, consumeErrors=True)
                d.addBoth(lambda _: failures[0])
                return d
            self.ports = ports
            for description, port in zip(self.config.endpoints, ports, strict=True):
                where = _describe(port)
                self.addresses.append(where)
                logger.info("Listening on %s at %s", description.split(":")[0], where)
            self.health.start()
            self.reader.start()
            logger.info("Receiving replies on process channel %s", self.prefix)
            return ports

        return done.addCallback(opened)

    # -- stopping ---------------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> Deferred[None]:
        """Stop gracefully; the Deferred fires when everything is closed.

        New connections are refused; WebSockets are closed with 1001 (and their
        ``websocket.disconnect`` sent); idle HTTP connections close at once and busy ones after
        their response, for up to ``grace`` seconds (``shutdown_timeout`` by default), after
        which they are cut.  Finally the last messages are flushed to the layer.
        """
        if self._stopping is not None:
            return self._chain(self._stopping)
        grace = self.config.shutdown_timeout if grace is None else grace
        self._stopping = Deferred()
        self.ctx.shutting_down = True
        logger.info("Shutting down: %d open connection(s), %gs grace period",
                    len(self.ctx.connections), grace)
        stops = [maybe_stop(port) for port in self.ports]
        self.ports = []
        for connection in list(self.ctx.connections):
            connection.server_shutdown()
        self._drained = Deferred()
        self._connection_closed()
        timer = self.reactor.callLater(grace, self._grace_over)
        drained = self._drained

        def after_drain(_: Any) -> Deferred[Any]:
            if timer.active():
                timer.cancel()
            return self._flush_and_finish()

        gatherResults([*stops, drained], consumeErrors=True).addBoth(after_drain)
        return self._chain(self._stopping)

    def _chain(self, d: Deferred[None]) -> Deferred[None]:
        chained: Deferred[None] = Deferred()

        def fire(result: Any) -> Any:
            chained.callback(None)
            return result

        d.addBoth(fire)
        return chained

    def _connection_closed(self) -> None:
        if self._drained is not None and not self.ctx.connections and not self._drained.called:
            self._drained.callback(None)

    def _grace_over(self) -> None:
        remaining = list(self.ctx.connections)
        if remaining:
            logger.warning("Grace period over: cutting %d connection(s)", len(remaining))
        for connection in remaining:
            connection.abort()  # type: ignore[attr-defined]

    def _flush_and_finish(self) -> Deferred[Any]:
        flushed = self.sender.wait_idle()
        timeout = self.reactor.callLater(FINAL_FLUSH_TIMEOUT, flushed.cancel)

        def finish(result: Any) -> None:
            if timeout.active():
                timeout.cancel()
            unconfirmed = self.sender.in_flight
            dropped = self.sender.abandon()
            if dropped:
                logger.warning("Shutdown: %d message(s) could not be sent to the layer", dropped)
            if unconfirmed:
                logger.warning("Shutdown: %d message(s) were sent to the layer without an answer "
                               "within %gs; they may be lost", unconfirmed, FINAL_FLUSH_TIMEOUT)
            self.reader.stop()
            self.health.stop()
            logger.info("Stopped")
            assert self._stopping is not None
            self._stopping.callback(None)

        return flushed.addBoth(finish)

    # -- layer data loss --------------------------------------------------------------------------

    def _layer_reset(self, old: str, new: str) -> None:
        outcomes = [connection.layer_reset() for connection in list(self.ctx.connections)]
        sockets = outcomes.count("websocket")
        requests = outcomes.count("http")
        logger.error(
            "The channel layer lost its data (identity %s -> %s): closed %d WebSocket(s) with "
            "1011 (their group memberships and queued replies are gone) and failed %d waiting "
            "HTTP request(s); new connections are served normally",
            old, new, sockets, requests,
        )

    # -- running ----------------------------------------------------------------------------------

    def run(self, install_signal_handlers: bool = True) -> int:
        """Start, run the reactor until stopped, and return the process exit status.

        With ``install_signal_handlers`` SIGTERM and SIGINT start a graceful stop (a second
        SIGINT stops at once).  Must then be called from the main thread.
        """
        reactor = self.reactor

        def started_failed(failure: Failure) -> None:
            logger.error("Cannot start: %s", failure.getErrorMessage())
            self.exit_code = 1
            reactor.stop()

        def begin() -> None:
            self.start().addErrback(started_failed)

        reactor.callWhenRunning(begin)
        if install_signal_handlers:
            self._install_signal_handlers()
        reactor.run(installSignalHandlers=False)
        return self.exit_code

    def shutdown_and_stop_reactor(self) -> None:
        """Graceful stop, then stop the reactor (what SIGTERM does)."""
        if self._stopping is not None:
            return
        d = self.stop()
        d.addBoth(lambda _: self.reactor.stop() if self.reactor.running else None)

    def _install_signal_handlers(self) -> None:
        reactor = self.reactor
        interrupted = [0]

        def handler(signum: int, frame: Any) -> None:
            # Only hand the work to the reactor thread; never do it inside the handler.
            if signum == signal.SIGINT:
                interrupted[0] += 1
                if interrupted[0] > 1:
                    reactor.callFromThread(reactor.stop)
                    return
            reactor.callFromThread(self.shutdown_and_stop_reactor)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def maybe_stop(port: IListeningPort) -> Deferred[Any]:
    """``port.stopListening()`` as a Deferred."""
    from twisted.internet.defer import maybeDeferred

    return maybeDeferred(port.stopListening)
