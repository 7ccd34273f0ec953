"""Endpoint description strings: building them from host/port options, and listening on them.

The server listens on Twisted *server endpoint strings* (``tcp:8000:interface=127.0.0.1``,
``unix:/run/app.sock``, ``ssl:443:privateKey=key.pem:certKey=cert.pem``...).  The ``-b``, ``-p``,
``-u`` and ``--fd`` options are shorthands that :func:`build_endpoint_description_strings`
turns into such strings, with Daphne 1.x's rules.  ``fd:fileno=N[:domain=INET|INET6|UNIX]``
adopts a listening socket inherited from a parent process (systemd, circus, a supervisor); it is
handled here rather than through a Twisted plugin so no plugin cache is involved.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory

from .config import ConfigError
from .eager import make_eager

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "build_endpoint_description_strings",
    "listen",
]

#: Port used when only a host (or nothing at all) is given.
DEFAULT_PORT = 8000
#: Interface used when only a port (or nothing at all) is given.
DEFAULT_HOST = "127.0.0.1"

_FD_DOMAINS = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}


def _escape(value: str) -> str:
    """Escape the characters that separate fields in an endpoint string."""
    return value.replace("\\", "\\\\").replace(":", r"\:").replace("=", r"\=")


def build_endpoint_description_strings(
    host: str | None = None,
    port: int | str | None = None,
    unix_socket: str | None = None,
    file_descriptor: int | str | None = None,
) -> list[str]:
    """Turn the ``-b``/``-p``/``-u``/``--fd`` options into endpoint strings.

    A host without a port listens on port 8000; a port without a host listens on 127.0.0.1.
    IPv6 hosts may be given with or without brackets.  With no option at all the result is
    empty: callers decide the default (the CLI uses 127.0.0.1:8000).

    Args:
        host: interface to bind (``0.0.0.0``, ``::``, ``[::1]``...).
        port: TCP port.
        unix_socket: path of a UNIX socket to create.
        file_descriptor: number of an inherited, already listening socket.

    Returns:
        The endpoint strings, in the order tcp, unix, fd.

    Raises:
        ConfigError: a port or file descriptor that is not a valid number.
    """
    strings: list[str] = []
    if host is not None or port is not None:
        port_number = _port(port if port is not None else DEFAULT_PORT)
        interface = (host if host is not None else DEFAULT_HOST).strip()
        interface = interface.removeprefix("[").removesuffix("]")
        strings.append(f"tcp:port={port_number}:interface={_escape(interface)}")
    if unix_socket is not None:
        strings.append(f"unix:{_escape(unix_socket)}")
    if file_descriptor is not None:
        try:
            fileno = int(file_descriptor)
        except (TypeError, ValueError):
            raise ConfigError(
                f"--fd needs a file descriptor number, not {file_descriptor!r}"
            ) from None
        if fileno < 0:
            raise ConfigError(f"--fd needs a non-negative file descriptor, not {fileno}")
        strings.append(f"fd:fileno={fileno}")
    return strings


def _port(value: int | str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"port must be a number, not {value!r}") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"port must be between 0 and 65535, not {number}")
    return number


def _parse_fd(description: str) -> tuple[int, int]:
    fileno: int | None = None
    family = socket.AF_INET
    for part in description.split(":")[1:]:
        key, _, value = part.partition("=")
        if key == "fileno":
            try:
                fileno = int(value)
            except ValueError:
                raise ConfigError(f"{description!r}: fileno must be a number") from None
        elif key == "domain":
            try:
                family = _FD_DOMAINS[value.upper()]
            except KeyError:
                raise ConfigError(
                    f"{description!r}: domain must be INET, INET6 or UNIX, not {value!r}"
                ) from None
        elif key.isdigit() and fileno is None:
            fileno = int(key)
        else:
            raise ConfigError(f"{description!r}: unknown fd endpoint option {key!r}")
    if fileno is None:
        raise ConfigError(f"{description!r}: use fd:fileno=N")
    return fileno, family


def listen(reactor: Any, description: str, factory: Factory) -> Deferred[IListeningPort]:
    """Start listening on one endpoint string; the Deferred fires with the listening port.

    Raises (through the Deferred):
        ConfigError: the string cannot be parsed.
        twisted.internet.error.CannotListenError: the address is taken or not permitted.
    """
    if description.startswith("fd:"):
        try:
            fileno, family = _parse_fd(description)
        except ConfigError as exc:
            return fail(exc)
        return maybeDeferred(_adopt, reactor, fileno, family, factory).addCallback(make_eager)
    try:
        endpoint = serverFromString(reactor, description)
    except (ValueError, TypeError, KeyError, ImportError) as exc:
        return fail(ConfigError(f"invalid endpoint {description!r}: {exc}"))
    return endpoint.listen(factory).addCallback(make_eager)


def _adopt(reactor: Any, fileno: int, family: int, factory: Factory) -> IListeningPort:
    # Twisted requires the inherited socket to be non-blocking; parents rarely set that.
    try:
        os.set_blocking(fileno, False)
    except OSError as exc:
        raise ConfigError(f"fd:fileno={fileno} is not an open socket ({exc.strerror})") from None
    port: IListeningPort = reactor.adoptStreamPort(fileno, family, factory)
    return port

