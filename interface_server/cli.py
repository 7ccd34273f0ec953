"""The ``interface-server`` command (also ``python -m interface_server``).

``interface-server [options] myproject.asgi:channel_layer`` imports the channel layer object,
builds one :class:`~interface_server.config.ServerConfig` from the options, and runs a
:class:`~interface_server.server.Server` until SIGTERM/SIGINT.  Any usage error — an unknown
flag, a bad value, a layer path that does not import — ends the process with exit status 2 and
one line on stderr saying what to fix.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO

from . import config as defaults
from .config import ConfigError, ServerConfig, parse_networks
from .endpoints import DEFAULT_HOST, DEFAULT_PORT, build_endpoint_description_strings

__all__ = ["CliError", "build_parser", "config_from_args", "import_layer", "main"]

logger = logging.getLogger("interface_server")


class CliError(Exception):
    """A usage error; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value


def _size(text: str) -> int:
    """Bytes, with an optional K/M/G suffix (powers of 1024)."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    raw = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = 1
    if raw and raw[-1] in units:
        factor = units[raw[-1]]
        raw = raw[:-1]
    try:
        value = int(float(raw) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a size in bytes (e.g. 1048576 or 1M), got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"sizes cannot be negative: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (Daphne 1.x's flags plus the limits)."""
    parser = _Parser(
        prog="interface-server",
        description="Serve HTTP and WebSocket clients through an ASGI 1.0 channel layer.",
    )
    add = parser.add_argument
    add("channel_layer", help="The channel layer object, as module.path:attribute "
        "(e.g. myproject.asgi:channel_layer)")
    where = parser.add_argument_group("where to listen")
    where.add_argument("-b", "--bind", dest="host", default=None,
                       help=f"Interface to bind (default {DEFAULT_HOST})")
    where.add_argument("-p", "--port", dest="port", default=None,
                       help=f"TCP port (default $PORT, else {DEFAULT_PORT})")
    where.add_argument("-u", "--unix-socket", dest="unix_socket", default=None,
                       help="Listen on this UNIX socket path")
    where.add_argument("--fd", dest="file_descriptor", default=None,
                       help="Adopt this already-listening socket file descriptor")
    where.add_argument("-e", "--endpoint", dest="endpoints", action="append", default=[],
                       help="A Twisted endpoint string, e.g. "
                       "ssl:443:privateKey=key.pem:certKey=cert.pem (repeatable)")
    logs = parser.add_argument_group("logging")
    logs.add_argument("-v", "--verbosity", type=int, default=1,
                      help="0 = warnings, 1 = info (default), 2 = debug")
    logs.add_argument("--access-log", dest="access_log", default=None,
                      help="Access log file, or - for stdout (default: stdout at verbosity >= 1)")
    timing = parser.add_argument_group("timeouts (seconds)")
    timing.add_argument("-t", "--http-timeout", dest="http_timeout", type=_seconds,
                        default=defaults.DEFAULT_HTTP_TIMEOUT,
                        help="Time the app has to start a response before a 503; 0 or -1 = no "
                        "limit (default %(default)s)")
    timing.add_argument("--websocket_timeout", "--websocket-timeout", dest="websocket_timeout",
                        type=_seconds, default=None,
                        help="Longest WebSocket life; 0 or -1 = no limit (default: the layer's "
                        "group_expiry, else 86400)")
    timing.add_argument("--websocket_connect_timeout", "--websocket-connect-timeout",
                        dest="websocket_connect_timeout", type=_seconds,
                        default=defaults.DEFAULT_WEBSOCKET_CONNECT_TIMEOUT,
                        help="Time the app has to accept a WebSocket (default %(default)s)")
    timing.add_argument("--request-head-timeout", "--websocket_handshake_timeout",
                        dest="request_head_timeout", type=_seconds,
                        default=defaults.DEFAULT_REQUEST_HEAD_TIMEOUT,
                        help="Time to receive a request head, including a WebSocket opening "
                        "handshake (default %(default)s)")
    timing.add_argument("--idle-timeout", dest="idle_timeout", type=_seconds,
                        default=defaults.DEFAULT_IDLE_TIMEOUT,
                        help="Close keep-alive connections and stalled uploads silent this long "
                        "(default %(default)s)")
    timing.add_argument("--ping-interval", dest="ping_interval", type=_seconds,
                        default=defaults.DEFAULT_PING_INTERVAL,
                        help="Ping WebSocket clients silent this long (default %(default)s)")
    timing.add_argument("--ping-timeout", dest="ping_timeout", type=_seconds,
                        default=defaults.DEFAULT_PING_TIMEOUT,
                        help="Drop WebSocket clients that do not answer a ping within this "
                        "(default %(default)s)")
    timing.add_argument("--shutdown-timeout", dest="shutdown_timeout", type=_seconds,
                        default=defaults.DEFAULT_SHUTDOWN_TIMEOUT,
                        help="Grace period for in-flight responses on SIGTERM "
                        "(default %(default)s)")
    limits = parser.add_argument_group("limits (sizes accept K/M/G suffixes)")
    limits.add_argument("--max-header-size", type=_size, default=defaults.DEFAULT_MAX_HEADER_SIZE,
                        help="Request line + headers before 431 (default %(default)s)")
    limits.add_argument("--max-header-count", type=int, default=defaults.DEFAULT_MAX_HEADER_COUNT,
                        help="Header lines before 431 (default %(default)s)")
    limits.add_argument("--max-body-size", type=_size, default=defaults.DEFAULT_MAX_BODY_SIZE,
                        help="Request body before 413; 0 = no limit (default %(default)s)")
    limits.add_argument("--body-chunk-size", type=_size, default=defaults.DEFAULT_BODY_CHUNK_SIZE,
                        help="Bodies above this are streamed over body_channel in chunks of "
                        "this size (default %(default)s)")
    limits.add_argument("--websocket-max-message-size", "--max-ws-message-size",
                        dest="max_ws_message_size", type=_size,
                        default=defaults.DEFAULT_MAX_WS_MESSAGE_SIZE,
                        help="WebSocket message size before a 1009 close (default %(default)s)")
    limits.add_argument("--max-outbound-buffer", type=_size,
                        default=defaults.DEFAULT_MAX_OUTBOUND_BUFFER,
                        help="Bytes held for a client that does not read before closing it "
                        "(default %(default)s)")
    limits.add_argument("--admission-timeout", type=_seconds,
                        default=defaults.DEFAULT_ADMISSION_TIMEOUT,
                        help="How long a request or frame may wait for room on a full channel "
                        "before 503/1013; 0 = refuse at once (default %(default)s)")
    limits.add_argument("--admission-queue-limit", type=int,
                        default=defaults.DEFAULT_ADMISSION_QUEUE_LIMIT,
                        help="Messages that may wait for room, over all channels "
                        "(default %(default)s)")
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument("--ws-protocol", dest="ws_protocols", nargs="*", default=[],
                          help="WebSocket subprotocols the server may choose, in preference "
                          "order")
    protocol.add_argument("--root-path", dest="root_path", default="",
                          help="ASGI root_path (the SCRIPT_NAME the app is mounted under)")
    protocol.add_argument("--root-path-header", dest="root_path_header", action="store_true",
                          help="Honour the Daphne-Root-Path request header (set only by a "
                          "trusted proxy!)")
    protocol.add_argument("--proxy-headers", dest="proxy_headers", action="store_true",
                          help="Use X-Forwarded-For/-Port/-Proto from trusted proxies")
    protocol.add_argument("--proxy-headers-trusted", dest="trusted_proxies", action="append",
                          default=None,
                          help="Addresses/CIDRs of trusted proxies, comma-separated or repeated "
                          f"(default {','.join(defaults.DEFAULT_TRUSTED_PROXIES)}; UNIX-socket "
                          "peers are always trusted; * trusts everyone)")
    protocol.add_argument("--server-name", dest="server_name", default="",
                          help="Server header on WebSocket handshakes (default: none)")
    protocol.add_argument("--force-sync", dest="force_sync", action="store_true",
                          help=argparse.SUPPRESS)
    return parser


def import_layer(path: str) -> Any:
    """Import ``module.path:attribute.path`` and return the object.

    Raises:
        CliError: naming what could not be imported.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(
            f"channel layer must be given as module.path:attribute (e.g. myproject.asgi:"
            f"channel_layer), not {path!r}"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CliError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:
        raise CliError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}".replace("\n", " ")
        ) from None
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(f"{module_name!r} has no attribute {attribute!r}") from None
    for required in ("send_many_async", "fetch_async", "new_channel"):
        if not callable(getattr(obj, required, None)):
            raise CliError(
                f"{path} is a {type(obj).__name__}, not a channels_classic channel layer "
                f"(no {required}())"
            )
    return obj


def _no_limit(value: float | None) -> float | None:
    return None if value is None or value <= 0 else value


def config_from_args(
    args: argparse.Namespace, layer: Any, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Build the validated configuration from parsed arguments.

    Raises:
        ConfigError: a value is out of range.
    """
    environ = os.environ if environ is None else environ
    nothing_given = (args.host is None and args.port is None and args.unix_socket is None
                     and args.file_descriptor is None and not args.endpoints)
    host = port = None
    if nothing_given or args.host is not None or args.port is not None:
        # A TCP listener: -b/-p win, then $PORT (Procfile style), then 127.0.0.1:8000.
        host = args.host if args.host is not None else DEFAULT_HOST
        port = args.port if args.port is not None else (environ.get("PORT") or DEFAULT_PORT)
    endpoints = build_endpoint_description_strings(host, port, args.unix_socket,
                                                   args.file_descriptor)
    endpoints += list(args.endpoints)
    websocket_timeout = args.websocket_timeout
    if websocket_timeout is None:
        websocket_timeout = float(getattr(layer, "group_expiry", None) or
                                  defaults.DEFAULT_WEBSOCKET_TIMEOUT)
    websocket_timeout = _no_limit(websocket_timeout)
    trusted = parse_networks(args.trusted_proxies or list(defaults.DEFAULT_TRUSTED_PROXIES))
    return ServerConfig(
        endpoints=tuple(endpoints),
        http_timeout=_no_limit(args.http_timeout),
        websocket_timeout=websocket_timeout,
        websocket_connect_timeout=args.websocket_connect_timeout,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        request_head_timeout=args.request_head_timeout,
        idle_timeout=args.idle_timeout,
        shutdown_timeout=args.shutdown_timeout,
        ws_protocols=tuple(args.ws_protocols or ()),
        root_path=args.root_path,
        root_path_header=args.root_path_header,
        proxy_headers=args.proxy_headers,
        trusted_proxies=trusted,
        max_header_size=args.max_header_size,
        max_header_count=args.max_header_count,
        max_body_size=args.max_body_size,
        body_chunk_size=args.body_chunk_size,
        max_ws_message_size=args.max_ws_message_size,
        max_outbound_buffer=args.max_outbound_buffer,
        admission_timeout=args.admission_timeout,
        admission_queue_limit=args.admission_queue_limit,
        server_name=args.server_name,
    )


def warn_about(config: ServerConfig, layer: Any, layer_path: str) -> None:
    """Log settings that work but are probably not what the user wants."""
    if getattr(layer, "local_only", False):
        logger.warning(
            "%s is a process-local layer (%s): only consumers running inside this process "
            "can answer; use the Redis layer to serve runworker processes",
            layer_path, type(layer).__name__,
        )
    group_expiry = getattr(layer, "group_expiry", None)
    timeout = config.websocket_timeout
    if group_expiry and (timeout is None or timeout > group_expiry):
        logger.warning(
            "--websocket_timeout (%s) is longer than the layer's group_expiry (%ss): sockets "
            "that live longer silently stop receiving group messages",
            "no limit" if timeout is None else f"{timeout:g}s", group_expiry,
        )


def configure_logging(verbosity: int) -> None:
    """Send our, Twisted's and autobahn's logs to stderr at the level ``-v`` asks for."""
    level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else (
        logging.WARNING)
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("interface_server").setLevel(level)
    import txaio
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    txaio.use_twisted()
    set_level = getattr(txaio, "set_global_log_level")  # noqa: B009 (set by use_twisted)
    # autobahn logs every refused handshake and failed frame at warning level; the server logs
    # those itself, once, so autobahn's own messages only show at -v 2 and above.
    set_level("debug" if verbosity >= 3 else "info" if verbosity == 2 else "error")
    observer: Any = STDLibLogObserver()
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    warnings.simplefilter("default")


def _open_access_log(target: str | None, verbosity: int) -> TextIO | None:
    if target is None:
        return sys.stdout if verbosity >= 1 else None
    if target == "-":
        return sys.stdout
    try:
        return open(target, "a", buffering=1, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot open the access log {target!r}: {exc.strerror}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        configure_logging(args.verbosity)
        if args.force_sync:
            logger.info("--force-sync is accepted for compatibility and has no effect")
        layer = import_layer(args.channel_layer)
        config = config_from_args(args, layer)
        stream = _open_access_log(args.access_log, args.verbosity)
    except (CliError, ConfigError) as exc:
        print(f"interface-server: error: {exc}", file=sys.stderr)
        return 2
    warn_about(config, layer, args.channel_layer)
    from .access import AccessLogGenerator
    from .server import Server, install_reactor

    try:
        reactor = install_reactor()
    except ConfigError as exc:
        print(f"interface-server: error: {exc}", file=sys.stderr)
        return 2
    server = Server(config, layer, reactor=reactor,
                    action_logger=AccessLogGenerator(stream) if stream is not None else None)
    return server.run(install_signal_handlers=True)
