"""Tests for interface_server.cli: option parsing into a ServerConfig (no process started)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from channels_classic.layers.inmemory import InMemoryChannelLayer
from interface_server.cli import (
    CliError,
    build_parser,
    config_from_args,
    import_layer,
    warn_about,
)
from interface_server.config import ConfigError, ServerConfig

LAYER = InMemoryChannelLayer(group_expiry=3600)


def config(*argv: str, environ: dict[str, str] | None = None, layer: Any = LAYER) -> ServerConfig:
    args = build_parser().parse_args(["x:y", *argv])
    return config_from_args(args, layer, environ or {})


def test_defaults() -> None:
    result = config()
    assert result.endpoints == ("tcp:port=8000:interface=127.0.0.1",)
    assert result.http_timeout == 120
    assert result.websocket_timeout == 3600  # the layer's group_expiry
    assert result.websocket_connect_timeout == 20
    assert result.ping_interval == 20 and result.ping_timeout == 30
    assert result.proxy_headers is False and result.root_path_header is False


@pytest.mark.parametrize(
    ("argv", "environ", "endpoints"),
    [
        ((), {"PORT": "5000"}, ("tcp:port=5000:interface=127.0.0.1",)),
        (("-p", "9000"), {"PORT": "5000"}, ("tcp:port=9000:interface=127.0.0.1",)),
        (("-b", "0.0.0.0"), {"PORT": "5000"}, ("tcp:port=5000:interface=0.0.0.0",)),
        (("-b", "::"), {}, (r"tcp:port=8000:interface=\:\:",)),
        (("-u", "/tmp/s"), {"PORT": "5000"}, ("unix:/tmp/s",)),
        (("--fd", "3",), {}, ("fd:fileno=3",)),
        (("-e", "ssl:443:privateKey=k:certKey=c"), {}, ("ssl:443:privateKey=k:certKey=c",)),
        (("-p", "1", "-e", "unix:/x", "-e", "tcp:2"), {},
         ("tcp:port=1:interface=127.0.0.1", "unix:/x", "tcp:2")),
    ],
)
def test_where_to_listen(argv: tuple[str, ...], environ: dict[str, str],
                         endpoints: tuple[str, ...]) -> None:
    assert config(*argv, environ=environ).endpoints == endpoints


@pytest.mark.parametrize("value", ["0", "-1"])
def test_no_limit_values(value: str) -> None:
    result = config("-t", value, "--websocket_timeout", value)
    assert result.http_timeout is None and result.websocket_timeout is None


def test_every_flag_reaches_the_config() -> None:
    result = config(
        "--websocket_connect_timeout", "3", "--websocket_handshake_timeout", "4",
        "--idle-timeout", "5", "--ping-interval", "6", "--ping-timeout", "7",
        "--shutdown-timeout", "8", "--max-header-size", "32K", "--max-header-count", "50",
        "--max-body-size", "1M", "--body-chunk-size", "64k", "--websocket-max-message-size",
        "2MiB", "--max-outbound-buffer", "1G", "--admission-timeout", "0",
        "--admission-queue-limit", "5", "--root-path", "/app/", "--root-path-header",
        "--proxy-headers", "--proxy-headers-trusted", "10.0.0.0/8,192.168.0.1",
        "--proxy-headers-trusted", "::1", "--server-name", "edge", "--ws-protocol", "a", "b",
    )
    assert (result.websocket_connect_timeout, result.request_head_timeout, result.idle_timeout,
            result.ping_interval, result.ping_timeout, result.shutdown_timeout) == (3, 4, 5, 6, 7,
                                                                                    8)
    assert result.max_header_size == 32 * 1024 and result.max_header_count == 50
    assert result.max_body_size == 1024**2 and result.body_chunk_size == 64 * 1024
    assert result.max_ws_message_size == 2 * 1024**2 and result.max_outbound_buffer == 1024**3
    assert result.admission_timeout == 0 and result.admission_queue_limit == 5
    assert result.root_path == "/app" and result.root_path_header and result.proxy_headers
    assert [str(n) for n in result.trusted_proxies] == ["10.0.0.0/8", "192.168.0.1/32", "::1/128"]
    assert result.server_name == "edge" and result.ws_protocols == ("a", "b")


def test_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="interface_server"):
        warn_about(config("--websocket_timeout", "7200"), LAYER, "x:y")
    assert "longer than the layer's group_expiry" in caplog.text
    assert "process-local layer (InMemoryChannelLayer)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="interface_server"):
        warn_about(config("--websocket_timeout", "60"), object(), "x:y")
    assert caplog.text == ""


@pytest.mark.parametrize(
    "argv",
    [("-t", "soon"), ("--max-body-size", "lots"), ("--max-body-size", "-1"),
     ("--ping-interval", "nan"), ("--bogus",), ("-v", "loud")],
)
def test_bad_values_are_usage_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(CliError):
        build_parser().parse_args(["x:y", *argv])


@pytest.mark.parametrize("argv", [("-p", "http"), ("--ping-timeout", "-3"),
                                  ("--proxy-headers-trusted", "example.com")])
def test_out_of_range_values_are_config_errors(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        config(*argv)


def test_import_layer() -> None:
    layer = import_layer("tests.interface_server.test_cli:LAYER")
    assert layer is LAYER
    with pytest.raises(CliError, match=r"module\.path:attribute"):
        import_layer("tests.interface_server.test_cli")
    with pytest.raises(CliError, match="not a channels_classic channel layer"):
        import_layer("tests.interface_server.test_cli:logging.Logger")
    with pytest.raises(CliError, match=r"importing 'tests\.interface_server\.support\.broken'"):
        import_layer("tests.interface_server.support.broken:layer")
