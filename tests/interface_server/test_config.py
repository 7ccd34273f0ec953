"""Tests for interface_server.config: validation of ServerConfig and trusted networks."""

from __future__ import annotations

import ipaddress

import pytest

from interface_server.config import ConfigError, ServerConfig, parse_networks


def test_defaults_are_valid_and_bounded() -> None:
    config = ServerConfig()
    assert config.endpoints == ("tcp:port=8000:interface=127.0.0.1",)
    assert config.http_timeout == 120
    assert config.max_ws_message_size == 1024 * 1024
    assert config.max_header_size == 16 * 1024
    assert config.body_chunk_size < 1024 * 1024  # fits a layer message with its headers
    assert config.admission_timeout > 0
    assert ipaddress.ip_address("127.0.0.1") in config.trusted_proxies[0]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"endpoints": ()}, "at least one endpoint"),
        ({"endpoints": "tcp:80"}, "not one string"),
        ({"http_timeout": 0}, "http_timeout"),
        ({"websocket_connect_timeout": -1}, "websocket_connect_timeout"),
        ({"ping_interval": float("nan")}, "ping_interval"),
        ({"max_body_size": -1}, "max_body_size"),
        ({"max_ws_message_size": 0}, "max_ws_message_size"),
        ({"max_header_size": 100}, "max_header_size"),
        ({"admission_queue_limit": True}, "admission_queue_limit"),
        ({"ws_protocols": ("chat, v2",)}, "subprotocol"),
        ({"root_path": b"/x"}, "root_path"),
    ],
)
def test_invalid_values_name_the_field(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        ServerConfig(**changes)  # type: ignore[arg-type]


def test_none_timeouts_mean_no_limit() -> None:
    config = ServerConfig(http_timeout=None, websocket_timeout=None)
    assert config.http_timeout is None and config.websocket_timeout is None


def test_root_path_is_decoded_and_trailing_slash_removed() -> None:
    assert ServerConfig(root_path="/caf%C3%A9/").root_path == "/café"
    assert ServerConfig(root_path="/app").root_path == "/app"


def test_trusted_proxies_accept_strings() -> None:
    config = ServerConfig(trusted_proxies=("10.0.0.0/8", "::1"))  # type: ignore[arg-type]
    assert ipaddress.ip_address("10.1.2.3") in config.trusted_proxies[0]


def test_replace_validates_again() -> None:
    config = ServerConfig()
    assert config.replace(http_timeout=5).http_timeout == 5
    with pytest.raises(ConfigError):
        config.replace(http_timeout=-5)


def test_parse_networks() -> None:
    networks = parse_networks(["10.0.0.0/8, 192.168.1.1", "unix", "::1"])
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.1/32", "::1/128"]
    assert len(parse_networks(["*"])) == 2
    with pytest.raises(ConfigError, match="not-an-ip"):
        parse_networks(["not-an-ip"])
