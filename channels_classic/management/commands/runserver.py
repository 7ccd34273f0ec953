"""``manage.py runserver``: the interface server and worker threads in one development process.

The interface server runs on Twisted's asyncio reactor in this thread; ``--threads``-style
worker threads (4, or 1 with ``--nothreading``) consume from the same channel layer, which is
the in-memory layer in a default development setup.  Django's autoreloader works as usual: it
runs this command in a child process and restarts it when code changes; signal handlers are
only installed when the command runs in the main thread (``--noreload``).

With ``--noasgi``, or when ``CHANNEL_LAYERS`` has no ``default`` entry, it is Django's own
(staticfiles) runserver.  This command must win over staticfiles' one, so ``channels_classic``
goes before ``django.contrib.staticfiles`` in ``INSTALLED_APPS`` (system check W010 says so).
"""

from __future__ import annotations

import contextlib
import datetime
import signal
import sys
import threading
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import (
    Command as StaticfilesRunserverCommand,
)
from django.core.management.base import CommandError
from django.db import connections
from django.utils import autoreload

from channels_classic import DEFAULT_CHANNEL_LAYER
from channels_classic.asgi import InvalidChannelLayerError, channel_layers
from channels_classic.log import setup_logger
from channels_classic.management.action_log import ConsoleActionLogger

#: 1.x's defaults for the two server timeouts runserver exposes.
DEFAULT_HTTP_TIMEOUT = 60.0
DEFAULT_WEBSOCKET_HANDSHAKE_TIMEOUT = 5.0
#: Server configuration fields → the options that set them, for error messages.
_OPTION_NAMES = {
    "request_head_timeout": "--websocket_handshake_timeout",
    "http_timeout": "--http_timeout",
}


class Command(StaticfilesRunserverCommand):
    """Development server with WebSockets: interface server + in-process workers."""

    help = (
        "Starts a development server with WebSocket support: the channels_classic interface "
        "server plus worker threads in one process (Django's own server with --noasgi)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--noworker", action="store_false", dest="run_worker",
            help="Do not run worker threads in this process (run `manage.py runworker` "
            "against a shared layer such as Redis instead).",
        )
        parser.add_argument(
            "--noasgi", action="store_false", dest="use_asgi",
            help="Run Django's own WSGI development server instead.",
        )
        parser.add_argument(
            "--http_timeout", type=float, default=DEFAULT_HTTP_TIMEOUT,
            help="Seconds a view has to start its response before the client gets a 503; "
            "0 = no limit (default: %(default)s).",
        )
        parser.add_argument(
            "--websocket_handshake_timeout", type=float,
            default=DEFAULT_WEBSOCKET_HANDSHAKE_TIMEOUT,
            help="Seconds a client has to complete the WebSocket opening handshake "
            "(default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        self.use_asgi = options["use_asgi"] and DEFAULT_CHANNEL_LAYER in channel_layers
        if options["use_asgi"] and not self.use_asgi:
            self.stdout.write(
                "CHANNEL_LAYERS has no 'default' layer: running Django's own development "
                "server (no WebSockets)."
            )
        super().handle(*args, **options)

    # -- the ASGI server -----------------------------------------------------------------

    def inner_run(self, *args: Any, **options: Any) -> None:
        if not self.use_asgi:
            return super().inner_run(*args, **options)
        # Under the reloader, an import error in the project is re-raised here, in the child.
        autoreload.raise_last_exception()
        setup_logger("channels_classic", self.verbosity)
        setup_logger("interface_server", self.verbosity if self.verbosity >= 2 else 0)
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        # The checks may have opened connections in this thread; workers open their own.
        for connection in connections.all(initialized_only=True):
            connection.close()

        try:
            layer = channel_layers[DEFAULT_CHANNEL_LAYER]
        except InvalidChannelLayerError as exc:
            raise CommandError(str(exc)) from exc
        config = self.server_config(options)  # bad values fail here, before any thread starts
        group = self.start_workers(layer, options) if options["run_worker"] else None
        if group is None and layer.local_only():
            self.stderr.write(
                "--noworker with the in-memory layer: no worker can reach this process's "
                "layer, so requests will time out. Use a Redis layer for separate workers."
            )
        self.forced_stop = False
        try:
            code = self.serve(layer, config)
        finally:
            if group is not None:
                self.stop_workers(group)
        with contextlib.suppress(Exception):  # closing is best effort at exit
            layer.channel_layer.close()
        if code:
            sys.exit(code)
        return None

    def stop_workers(self, group: Any) -> None:
        """Give running consumers the grace period, unless told to exit at once.

        A second signal during the server's shutdown, or Ctrl-C while waiting here (the
        default handler is back by then), skips the wait; the worker threads are daemons and
        end with the process.
        """
        if self.forced_stop:
            group.stop(wait=False)
            return
        try:
            group.stop()
        except KeyboardInterrupt:
            self.stderr.write("Interrupted: not waiting for running consumers.")

    def http_consumer(self, options: dict[str, Any]) -> Any:
        """``StaticFilesConsumer`` when static files are served (as Django decides), else None."""
        if (
            options["use_static_handler"]
            and (settings.DEBUG or options["insecure_serving"])
            and apps.is_installed("django.contrib.staticfiles")
        ):
            from channels_classic.staticfiles import StaticFilesConsumer

            return StaticFilesConsumer()
        return None

    def start_workers(self, layer: Any, options: dict[str, Any]) -> Any:
        """Add the default routes and start 4 (or 1) supervised worker threads."""
        from worker.group import WorkerGroup

        layer.router.check_default(http_consumer=self.http_consumer(options))
        group = WorkerGroup(
            layer,
            threads=4 if options["use_threading"] else 1,
            log_each=self.verbosity >= 2,
        )
        group.start_background()
        return group

    def server_config(self, options: dict[str, Any]) -> Any:
        """The interface server's configuration from the options and settings."""
        from interface_server import ConfigError, ServerConfig
        from interface_server.endpoints import build_endpoint_description_strings

        host = "0.0.0.0" if self.addr == "0" else self.addr  # Django's "0" shorthand
        http_timeout = options["http_timeout"]
        try:
            return ServerConfig(
                endpoints=tuple(build_endpoint_description_strings(host=host, port=self.port)),
                # 0 (or less) means no limit, as in 1.x and the interface-server command.
                http_timeout=http_timeout if http_timeout > 0 else None,
                # The server's request-head timeout is also its WebSocket opening-handshake
                # timeout (autobahn's openHandshakeTimeout in 1.x).
                request_head_timeout=options["websocket_handshake_timeout"],
                ws_protocols=tuple(getattr(settings, "CHANNELS_WS_PROTOCOLS", None) or ()),
                root_path=getattr(settings, "FORCE_SCRIPT_NAME", None) or "",
            )
        except ConfigError as exc:
            message = str(exc)
            for field, option in _OPTION_NAMES.items():
                message = message.replace(field, option)
            raise CommandError(message) from exc

    def serve(self, layer: Any, config: Any) -> int:
        """Run the interface server on the asyncio reactor until stopped; the exit status."""
        from interface_server import Server, install_reactor

        reactor = install_reactor()
        server = Server(
            config,
            layer.channel_layer,
            reactor=reactor,
            action_logger=ConsoleActionLogger(sys.stderr, self.style),
        )
        failed: list[str] = []

        def listening(_: Any) -> None:
            self.print_banner(layer, server.addresses)

        def cannot_listen(failure: Any) -> None:
            failed.append(failure.getErrorMessage())
            self.stderr.write(f"Error: cannot listen: {failure.getErrorMessage()}")
            reactor.stop()

        reactor.callWhenRunning(
            lambda: server.start().addCallbacks(listening, cannot_listen)
        )
        restore = self.install_signal_handlers(reactor, server)
        try:
            reactor.run(installSignalHandlers=False)
        finally:
            if restore is not None:
                restore()
        return 1 if failed else int(server.exit_code or 0)

    def install_signal_handlers(self, reactor: Any, server: Any) -> Any:
        """SIGINT/SIGTERM stop the server gracefully; a second one stops it at once.

        Only in the main thread: under the autoreloader this runs in a child thread and the
        reloader owns the signals.
        """
        if threading.current_thread() is not threading.main_thread():
            return None
        received = [0]

        def handle(signum: int, frame: FrameType | None) -> None:
            received[0] += 1
            # Hand the work to the reactor; nothing else happens inside the handler.
            if received[0] == 1:
                reactor.callFromThread(self.begin_shutdown, server)
            else:
                self.forced_stop = True
                reactor.callFromThread(reactor.stop)

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def begin_shutdown(self, server: Any) -> None:
        """First signal (in the reactor thread): say so, then stop gracefully."""
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        self.stdout.write(
            f"Shutting down gracefully (running requests and consumers may finish); press "
            f"{quit_command} again to exit at once."
        )
        self.stdout.flush()
        server.shutdown_and_stop_reactor()

    def print_banner(self, layer: Any, addresses: list[str]) -> None:
        """Django-style start-up lines, with the address actually bound."""
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        now = datetime.datetime.now().strftime("%B %d, %Y - %X")
        urls = ", ".join(f"http://{address}/" for address in addresses)
        backend = type(layer.channel_layer).__name__
        self.stdout.write(
            f"{now}\n"
            f"Django version {self.get_version()}, using settings "
            f"{settings.SETTINGS_MODULE!r}\n"
            f"Starting ASGI/Channels development server at {urls}\n"
            f"Channel layer {layer.alias} ({backend})\n"
            f"Quit the server with {quit_command}."
        )
        self.stdout.flush()
