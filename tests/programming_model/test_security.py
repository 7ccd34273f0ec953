"""channels_classic.security.websockets: origin validation of WebSocket connects."""

from __future__ import annotations

import pytest

from channels_classic.exceptions import DenyConnection
from channels_classic.message import Message
from channels_classic.routing import route
from channels_classic.security.websockets import (
    AllowedHostsOnlyOriginValidator,
    BaseOriginValidator,
    allowed_hosts_only,
    origin_host,
)
from channels_classic.test import WSClient, apply_routes


def connect(*headers, channel="websocket.connect"):
    return Message({"reply_channel": "r!1", "path": "/", "headers": [list(h) for h in headers]},
                   channel, None)


@allowed_hosts_only
def consumer(message):
    return "allowed"


@pytest.mark.parametrize(
    "origin",
    [b"http://testserver", b"https://localhost:8443", b"http://127.0.0.1", b"http://TESTSERVER"],
)
def test_allowed_origins(origin):
    assert consumer(connect((b"origin", origin))) == "allowed"


@pytest.mark.parametrize(
    ("headers", "log"),
    [
        ([], "no Origin header"),
        ([(b"origin", b"")], "an empty or repeated Origin header"),
        ([(b"origin", b"http://testserver"), (b"origin", b"http://evil.example")],
         "an empty or repeated Origin header"),
        ([(b"origin", "http://tëst".encode())], "not ASCII"),
        ([(b"origin", b"null")], "origin 'null' is not allowed"),
        ([(b"origin", b"http://evil.example")], "origin 'http://evil.example' is not allowed"),
        ([(b"origin", b"testserver")], "origin 'testserver' is not allowed"),  # no scheme
        ([(b"origin", b"http://[::1")], "is not allowed"),  # unparsable
    ],
)
def test_refused_origins_are_logged(headers, log, caplog):
    with pytest.raises(DenyConnection):
        consumer(connect(*headers))
    assert log in caplog.text


def test_debug_with_empty_allowed_hosts_allows_local_origins(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = []
    assert consumer(connect((b"origin", b"http://localhost:8000"))) == "allowed"
    assert consumer(connect((b"origin", b"http://[::1]:8000"))) == "allowed"
    with pytest.raises(DenyConnection):
        consumer(connect((b"origin", b"http://example.com")))


def test_other_messages_pass_through():
    assert consumer(connect(channel="websocket.receive")) == "allowed"


def test_origin_host():
    assert origin_host("https://Example.com:443") == "example.com"
    assert origin_host("http://[::1]:80") == "[::1]"
    assert origin_host("null") is None
    assert origin_host("example.com") is None


def test_base_validator_needs_validate_origin():
    with pytest.raises(NotImplementedError, match="validate_origin"):
        BaseOriginValidator(lambda message: None)(connect((b"origin", b"http://a.b")))


def test_custom_validator_on_a_method():
    class OnlyHttps(BaseOriginValidator):
        def validate_origin(self, message, origin):
            return origin.startswith("https://")

    class Consumer:
        @OnlyHttps
        def connect(self, message):
            return self

    instance = Consumer()
    assert instance.connect(connect((b"origin", b"https://x"))) is instance
    with pytest.raises(DenyConnection):
        instance.connect(connect((b"origin", b"http://x")))


def test_refusal_reaches_the_client_as_a_close(layer):
    with apply_routes([route("websocket.connect", AllowedHostsOnlyOriginValidator(
            lambda message: message.reply_channel.send({"accept": True})))]):
        client = WSClient()
        client.set_header("origin", "http://evil.example")
        client.send_and_consume("websocket.connect", check_accept=False)
        assert client.receive() == {"close": True}
        good = WSClient()
        good.set_header("origin", "http://testserver")
        good.send_and_consume("websocket.connect")
