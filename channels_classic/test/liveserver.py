"""``ChannelLiveServerTestCase``: tests against a real interface server and worker.

::

    from channels_classic.test import ChannelLiveServerTestCase

    class ChatPageTests(ChannelLiveServerTestCase):
        def test_page_and_socket(self):
            page = urlopen(self.live_server_url + "/chat/")
            socket = websocket.create_connection(self.live_server_ws_url + "/chat/lobby/")

Theory of operation
    For each test class, one child process (``python -c ...``) runs what ``runserver`` runs:
    the interface server on Twisted's asyncio reactor in its main thread, plus a worker with
    ``worker_threads`` threads.  A child process rather than threads of the test process,
    because a Twisted reactor cannot be started twice in one process and the test process may
    have imported (and so installed) another reactor already; it also means the server and the
    worker run against the channel layer exactly as in production.

    Consequences, checked in ``setUpClass`` with a clear error:

    * the channel layers must reach across processes (Redis): the in-memory layer is
      refused.  Each alias is built from its ``TEST_CONFIG`` when it has one (else
      ``CONFIG``), in the child *and* in the test process for the duration of the class, so
      what the test sends (``Group.send``, data bindings fired by its saves) reaches the
      server;
    * the test database must be visible to another process: an in-memory SQLite database is
      refused (give ``DATABASES[...]["TEST"]["NAME"]`` a file name).

    The child gets the test process's view of the settings: the test database names, and
    every setting overridden when the class starts (``@override_settings`` on the class,
    Django's ``ALLOWED_HOSTS`` addition for :attr:`host`).  Settings overridden inside a single
    test method do not reach it.  Before each test every layer is flushed.  The child prints
    one line when it is listening; it stops (gracefully) when the test process closes its
    standard input, which also happens if the test process dies, so no server outlives its
    tests.  Its log lines (warnings and errors, e.g. a failing consumer) are copied to the
    test process's standard error.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from django.conf import UserSettingsHolder, settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.test.testcases import TransactionTestCase
from django.test.utils import modify_settings
from django.utils.functional import classproperty

from .. import DEFAULT_CHANNEL_LAYER
from ..asgi import ChannelLayerWrapper, InvalidChannelLayerError, channel_layers
from .base import _PRE_SETUP_IS_CLASSMETHOD, use_channel_layers

__all__ = [
    "ChannelLiveServerTestCase",
    "LiveServerError",
    "LiveServerProcess",
    "LiveServerSpec",
    "overridden_settings",
    "serve_live_server",
]

logger = logging.getLogger("channels_classic.test")

#: What the child prints, followed by a JSON list of ``host:port`` addresses, once listening.
READY_MARKER = "channels_classic live server listening on"
#: Lines of the child's output kept for error messages.
OUTPUT_LINES_KEPT = 200
#: Seconds the child gets to stop after its standard input closed, before it is killed.
STOP_TIMEOUT = 15.0

_CHILD_COMMAND = "from channels_classic.test.liveserver import serve_live_server; " \
                 "raise SystemExit(serve_live_server())"


class LiveServerError(RuntimeError):
    """The live server process could not be started (its output says why)."""


@dataclass
class LiveServerSpec:
    """Everything the child process needs, sent to it pickled on its standard input.

    Attributes:
        settings: settings to set before Django is set up (overrides, test database names).
        aliases: the channel layer aliases to build from ``TEST_CONFIG``.
        alias: the alias the server and the worker use.
        bind: the interface to listen on (port 0: any free port).
        worker_threads: worker threads in the child.
        serve_static: answer ``STATIC_URL`` requests from the static-files finders.
        shutdown_timeout: grace period for connections and consumers when stopping.
    """

    settings: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = (DEFAULT_CHANNEL_LAYER,)
    alias: str = DEFAULT_CHANNEL_LAYER
    bind: str = "127.0.0.1"
    worker_threads: int = 1
    serve_static: bool = True
    shutdown_timeout: float = 2.0


def overridden_settings() -> dict[str, Any]:
    """Every setting overridden right now (``override_settings``, ``modify_settings``...),
    with its current value."""
    found: dict[str, Any] = {}
    holder = getattr(settings, "_wrapped", None)
    while isinstance(holder, UserSettingsHolder):
        # The newest override is outermost; an older one of the same name is hidden by it.
        for name, value in vars(holder).items():
            # Every holder sets SETTINGS_MODULE = None; it is not an override.
            if name.isupper() and name != "SETTINGS_MODULE" and name not in found:
                found[name] = value
        holder = holder.default_settings
    return found


def settings_module() -> str | None:
    """The settings module Django was set up with (also while settings are overridden)."""
    holder = getattr(settings, "_wrapped", None)
    while isinstance(holder, UserSettingsHolder):
        holder = holder.default_settings
    return getattr(holder, "SETTINGS_MODULE", None)


def _child_settings() -> dict[str, Any]:
    values = overridden_settings()
    # The test databases, under the names the test runner gave them.
    values["DATABASES"] = {
        alias: dict(connections[alias].settings_dict) for alias in connections
    }
    for name, value in values.items():
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise ImproperlyConfigured(
                f"ChannelLiveServerTestCase cannot pass setting {name} to the live server "
                f"process: its value cannot be pickled ({type(exc).__name__}: {exc})"
            ) from exc
    return values


class LiveServerProcess:
    """The child process running an interface server and a worker (test-process side).

    Args:
        spec: what the child should run.
        startup_timeout: seconds to wait for it to listen.
    """

    def __init__(self, spec: LiveServerSpec, startup_timeout: float = 30.0) -> None:
        self.spec = spec
        self.startup_timeout = startup_timeout
        self.addresses: list[str] = []
        self.output: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        self._ready = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.addresses[0].rpartition(":")[2])

    def start(self) -> LiveServerProcess:
        """Start the child and wait until it listens.

        Raises:
            LiveServerError: it exited or did not listen within ``startup_timeout``.
        """
        module = settings_module()
        if not module:
            raise ImproperlyConfigured(
                "ChannelLiveServerTestCase needs DJANGO_SETTINGS_MODULE: the server process "
                "loads the same settings (settings.configure() cannot be passed on)"
            )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": module,
            # The child imports what the tests import, from the same places.
            "PYTHONPATH": os.pathsep.join(path or os.getcwd() for path in sys.path),
            "PYTHONUNBUFFERED": "1",
        }
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            # Its own session: a Ctrl-C meant for the test runner must not kill the server
            # under a test; the runner's clean-up stops it.
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_output, name="live-server-output", daemon=True
        )
        self._reader.start()
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(pickle.dumps(self.spec))
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died at once; reported below with its output
        if not self._ready.wait(self.startup_timeout) or not self.addresses:
            self.stop()
            state = ("exited with status " + str(self._process.returncode)
                     if self._process.returncode is not None
                     else f"did not listen within {self.startup_timeout:g} s")
            raise LiveServerError(
                f"The live server process {state}. Its last output:\n" + "\n".join(self.output)
            )
        return self

    def _read_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if not self.addresses and line.startswith(READY_MARKER):
                self.addresses = list(json.loads(line[len(READY_MARKER):]))
                self._ready.set()
                continue
            self.output.append(line)
            # Straight to the file descriptor: pytest may have swapped sys.stderr meanwhile.
            with contextlib.suppress(OSError):
                os.write(2, f"[live server] {line}\n".encode())
        self._ready.set()  # the process ended

    def stop(self) -> None:
        """Ask the child to stop (by closing its standard input); kill it if it lingers."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(self.spec.shutdown_timeout + STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("The live server process did not stop; killing it")
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


def _test_layers() -> dict[str, ChannelLayerWrapper]:
    """A ``TEST_CONFIG`` layer for every configured alias; refuses process-local layers."""
    configs = channel_layers.configs
    if not configs:
        raise ImproperlyConfigured(
            "ChannelLiveServerTestCase needs CHANNEL_LAYERS (with a Redis layer)"
        )
    layers: dict[str, ChannelLayerWrapper] = {}
    try:
        for alias in configs:
            layers[alias] = channel_layers.make_test_backend(alias)
            if layers[alias].local_only():
                raise ImproperlyConfigured(
                    f"ChannelLiveServerTestCase cannot use CHANNEL_LAYERS[{alias!r}]: "
                    f"{type(layers[alias].channel_layer).__name__} only works inside one "
                    "process, and the server runs in another. Use the Redis layer (its "
                    "TEST_CONFIG can give the tests their own Redis database or prefix), e.g. "
                    "with @override_settings(CHANNEL_LAYERS=...) on the test class."
                )
    except BaseException:
        _close_all(layers)
        raise
    return layers


def _check_databases() -> None:
    for connection in connections.all():
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            raise ImproperlyConfigured(
                f"ChannelLiveServerTestCase cannot use the in-memory SQLite test database "
                f"{connection.alias!r}: the server runs in another process. Give it a file, "
                f"e.g. DATABASES[{connection.alias!r}]['TEST'] = {{'NAME': 'test_db.sqlite3'}}."
            )


def _close(layer: ChannelLayerWrapper) -> None:
    with contextlib.suppress(Exception):  # best effort at the end of a test class
        layer.channel_layer.close()


def _close_all(layers: dict[str, ChannelLayerWrapper]) -> None:
    for layer in layers.values():
        _close(layer)


class ChannelLiveServerTestCase(TransactionTestCase):
    """A ``TransactionTestCase`` with a live interface server and worker for the class.

    Attributes:
        host: the host name in :attr:`live_server_url` (added to ``ALLOWED_HOSTS``).
        worker_threads: worker threads serving the tests.
        serve_static: serve ``STATIC_URL`` from the static-files finders (whatever ``DEBUG``
            is), as ``runserver`` does.
        channel_layer_alias: the layer the server and the worker use.
        startup_timeout: seconds the server gets to start listening.
    """

    host: ClassVar[str] = "localhost"
    worker_threads: ClassVar[int] = 1
    serve_static: ClassVar[bool] = True
    channel_layer_alias: ClassVar[str] = DEFAULT_CHANNEL_LAYER
    startup_timeout: ClassVar[float] = 30.0

    _live_server: ClassVar[LiveServerProcess | None] = None
    _live_layers: ClassVar[dict[str, ChannelLayerWrapper] | None] = None

    @classproperty
    def live_server_url(cls) -> str:  # noqa: N805 - a class property
        """``http://host:port`` of the live server."""
        return f"http://{cls.host}:{cls._server().port}"

    @classproperty
    def live_server_ws_url(cls) -> str:  # noqa: N805 - a class property
        """``ws://host:port`` of the live server."""
        return f"ws://{cls.host}:{cls._server().port}"

    @classmethod
    def _server(cls) -> LiveServerProcess:
        if cls._live_server is None:
            raise RuntimeError("The live server runs only between setUpClass and tearDownClass")
        return cls._live_server

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.enterClassContext(modify_settings(ALLOWED_HOSTS={"append": cls.host}))
        try:
            layers = _test_layers()
        except InvalidChannelLayerError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        cls.addClassCleanup(_close_all, layers)
        if cls.channel_layer_alias not in layers:
            raise ImproperlyConfigured(
                f"{cls.__name__}.channel_layer_alias is {cls.channel_layer_alias!r}, which "
                f"CHANNEL_LAYERS does not configure"
            )
        _check_databases()
        cls.enterClassContext(use_channel_layers(layers))
        cls._live_layers = layers
        cls.addClassCleanup(cls._forget_live_server)
        cls.flush_channel_layers()
        spec = LiveServerSpec(
            settings=_child_settings(),
            aliases=tuple(layers),
            alias=cls.channel_layer_alias,
            bind=cls._bind_address(),
            worker_threads=cls.worker_threads,
            serve_static=cls.serve_static,
        )
        server = LiveServerProcess(spec, cls.startup_timeout)
        cls.addClassCleanup(server.stop)
        cls._live_server = server.start()

    @classmethod
    def _forget_live_server(cls) -> None:
        cls._live_server = None
        cls._live_layers = None

    @classmethod
    def _bind_address(cls) -> str:
        # "localhost" may resolve to ::1 first for clients and 127.0.0.1 for the server;
        # listening on the IPv4 loopback and letting clients fall back works everywhere.
        return "127.0.0.1" if cls.host == "localhost" else cls.host

    @classmethod
    def flush_channel_layers(cls) -> None:
        """Empty every live layer (done before each test)."""
        for layer in (cls._live_layers or {}).values():
            layer.flush()

    if _PRE_SETUP_IS_CLASSMETHOD:

        @classmethod
        def _pre_setup(cls) -> None:
            super()._pre_setup()
            cls.flush_channel_layers()

    else:

        def _pre_setup(self) -> None:  # type: ignore[misc]
            super()._pre_setup()
            self.flush_channel_layers()


# -- the child process --------------------------------------------------------------------------


def _apply_settings(values: dict[str, Any]) -> None:
    from django.conf import settings as child_settings

    for name, value in values.items():
        setattr(child_settings, name, value)


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def _http_consumer(serve_static: bool) -> Any:
    from django.apps import apps

    if serve_static and apps.is_installed("django.contrib.staticfiles"):
        from ..staticfiles import StaticFilesConsumer

        return StaticFilesConsumer()
    return None


def _stop_when_closed(stdin: IO[bytes], stop: Callable[[], None]) -> None:
    # The test process never writes again: EOF means "stop" (or that it died).
    with contextlib.suppress(Exception):
        stdin.read()
    stop()


def serve_live_server(stdin: IO[bytes] | None = None, stdout: IO[str] | None = None) -> int:
    """Child-process entry point: read the spec, serve until standard input closes.

    Returns:
        The exit status (0 after a clean stop, 1 if it could not listen).
    """
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout
    spec: LiveServerSpec = pickle.load(stdin)

    from interface_server import Server, ServerConfig, install_reactor

    # Before Django is set up: nothing may install another reactor first.
    reactor = install_reactor()
    _apply_settings(spec.settings)
    import django

    django.setup(set_prefix=False)
    _configure_logging()

    from django.db import connections as child_connections

    from interface_server.endpoints import build_endpoint_description_strings
    from worker.group import WorkerGroup

    layers = {alias: channel_layers.make_test_backend(alias) for alias in spec.aliases}
    for alias, layer in layers.items():
        channel_layers.set(alias, layer)
    layer = layers[spec.alias]
    layer.router.check_default(http_consumer=_http_consumer(spec.serve_static))
    group = WorkerGroup(layer, threads=spec.worker_threads, grace_period=spec.shutdown_timeout)
    group.start_background()
    for connection in child_connections.all(initialized_only=True):
        connection.close()  # worker threads open their own

    config = ServerConfig(
        endpoints=tuple(build_endpoint_description_strings(host=spec.bind, port=0)),
        shutdown_timeout=spec.shutdown_timeout,
        ws_protocols=tuple(getattr(settings, "CHANNELS_WS_PROTOCOLS", None) or ()),
        root_path=getattr(settings, "FORCE_SCRIPT_NAME", None) or "",
    )
    server = Server(config, layer.channel_layer, reactor=reactor)
    status = [0]

    def listening(_: Any) -> None:
        stdout.write(f"{READY_MARKER} {json.dumps(server.addresses)}\n")
        stdout.flush()

    def cannot_listen(failure: Any) -> None:
        logger.error("The live server cannot listen: %s", failure.getErrorMessage())
        status[0] = 1
        reactor.stop()

    reactor.callWhenRunning(lambda: server.start().addCallbacks(listening, cannot_listen))
    threading.Thread(
        target=_stop_when_closed,
        args=(stdin, lambda: reactor.callFromThread(server.shutdown_and_stop_reactor)),
        name="live-server-stdin", daemon=True,
    ).start()
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        group.stop()
        _close_all(layers)
    return status[0]
