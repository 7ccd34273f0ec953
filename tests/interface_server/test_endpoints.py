"""Tests for interface_server.endpoints: building endpoint strings and listening on them."""

from __future__ import annotations

import os
import socket

import pytest
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactor

from interface_server.config import ConfigError
from interface_server.endpoints import build_endpoint_description_strings, listen


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, []),
        ({"host": "0.0.0.0"}, ["tcp:port=8000:interface=0.0.0.0"]),
        ({"port": 9000}, ["tcp:port=9000:interface=127.0.0.1"]),
        ({"host": "::1", "port": "81"}, [r"tcp:port=81:interface=\:\:1"]),
        ({"host": "[::]", "port": 80}, [r"tcp:port=80:interface=\:\:"]),
        ({"unix_socket": "/tmp/a.sock"}, ["unix:/tmp/a.sock"]),
        ({"file_descriptor": 3}, ["fd:fileno=3"]),
        (
            {"host": "127.0.0.1", "port": 1, "unix_socket": "/s", "file_descriptor": "5"},
            ["tcp:port=1:interface=127.0.0.1", "unix:/s", "fd:fileno=5"],
        ),
    ],
)
def test_build_endpoint_description_strings(kwargs: dict[str, object], expected: list[str]
                                            ) -> None:
    assert build_endpoint_description_strings(**kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"port": "http"}, {"port": 70000}, {"file_descriptor": "x"},
                                    {"file_descriptor": -1}])
def test_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_endpoint_description_strings(**kwargs)  # type: ignore[arg-type]


def test_listen_tcp_and_unix_on_memory_reactor() -> None:
    reactor = MemoryReactor()
    factory = Factory()
    results: list[object] = []
    listen(reactor, "tcp:port=0:interface=127.0.0.1", factory).addCallback(results.append)
    listen(reactor, "unix:/tmp/x.sock", factory).addCallback(results.append)
    assert len(results) == 2
    assert reactor.tcpServers[0][0] == 0 and reactor.tcpServers[0][2] == 50
    assert reactor.unixServers[0][0] == "/tmp/x.sock"


def test_listen_fd_adopts_the_socket_non_blocking() -> None:
    reactor = MemoryReactor()
    adopted: list[tuple[int, int]] = []
    reactor.adoptStreamPort = lambda fd, family, factory: adopted.append((fd, family))  # type: ignore[method-assign]
    with socket.socket(socket.AF_UNIX) as unix, socket.socket() as inet:
        listen(reactor, f"fd:fileno={unix.fileno()}:domain=UNIX", Factory())
        listen(reactor, f"fd:fileno={inet.fileno()}", Factory())
        assert adopted == [(unix.fileno(), socket.AF_UNIX), (inet.fileno(), socket.AF_INET)]
        assert not os.get_blocking(inet.fileno())


def test_listen_fd_that_is_not_open() -> None:
    with socket.socket() as closed:
        fileno = closed.fileno()
    errors: list[BaseException] = []
    listen(MemoryReactor(), f"fd:fileno={fileno}", Factory()).addErrback(
        lambda f: errors.append(f.value))
    assert isinstance(errors[0], ConfigError) and "not an open socket" in str(errors[0])


@pytest.mark.parametrize("description", ["fd:domain=INET", "fd:fileno=x", "fd:fileno=1:domain=X",
                                         "fd:fileno=1:color=red", "nonsense:1234"])
def test_listen_bad_strings_fail_with_config_error(description: str) -> None:
    errors: list[BaseException] = []
    listen(MemoryReactor(), description, Factory()).addErrback(lambda f: errors.append(f.value))
    assert len(errors) == 1 and isinstance(errors[0], ConfigError)
