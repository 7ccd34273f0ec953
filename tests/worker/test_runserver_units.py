"""runserver's pure parts: console lines for server events, the INSTALLED_APPS order check."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management.base import CommandError
from django.core.management.color import color_style, no_style
from django.test import override_settings

from channels_classic.management.action_log import ConsoleActionLogger, format_action, style_for
from channels_classic.management.checks import check_app_order

CLIENT = "127.0.0.1:5432"


def test_http_and_websocket_lines_as_in_1x():
    assert format_action("http", "complete", {
        "path": "/chat/", "status": 200, "method": "GET", "client": CLIENT,
        "time_taken": 0.0123, "size": 10,
    }) == ("HTTP GET /chat/ 200 [0.01, 127.0.0.1:5432]", "HTTP_SUCCESS")
    for action, word in (("connecting", "HANDSHAKING"), ("connected", "CONNECT"),
                         ("rejected", "REJECT"), ("disconnected", "DISCONNECT")):
        line, _ = format_action("websocket", action, {"path": "/ws/", "client": CLIENT})
        assert line == f"WebSocket {word} /ws/ [127.0.0.1:5432]"
    assert format_action("websocket", "something-else", {}) is None
    assert format_action("http", "complete", {"status": None})[1] == "HTTP_SERVER_ERROR"
    assert format_action("http", "complete", {"status": 201})[0] == "HTTP - - 201 [0.00, -]"


def test_status_colours_follow_djangos_roles():
    assert [style_for(s) for s in (101, 204, 304, 302, 404, 403, 503)] == [
        "HTTP_INFO", "HTTP_SUCCESS", "HTTP_NOT_MODIFIED", "HTTP_REDIRECT", "HTTP_NOT_FOUND",
        "HTTP_BAD_REQUEST", "HTTP_SERVER_ERROR"]


def test_console_logger_writes_timestamped_lines():
    stream = io.StringIO()
    fixed = datetime.datetime(2025, 1, 31, 12, 0, 1)
    logger = ConsoleActionLogger(stream, no_style(), now=lambda: fixed)
    logger("websocket", "connected", {"path": "/ws/", "client": CLIENT})
    logger("websocket", "unknown", {})
    assert stream.getvalue() == "[2025/01/31 12:00:01] WebSocket CONNECT /ws/ [127.0.0.1:5432]\n"
    coloured = io.StringIO()
    ConsoleActionLogger(coloured, color_style(force_color=True), now=lambda: fixed)(
        "http", "complete", {"path": "/", "status": 500, "method": "GET", "client": CLIENT})
    assert "\x1b[" in coloured.getvalue() and "HTTP GET / 500" in coloured.getvalue()


def test_app_order_check():
    assert check_app_order() == []  # the test settings list channels_classic first
    with override_settings(INSTALLED_APPS=["django.contrib.staticfiles", "channels_classic"]):
        [warning] = check_app_order()
    assert warning.id == "channels_classic.W010"
    assert "before django.contrib.staticfiles" in warning.msg
    with override_settings(INSTALLED_APPS=[
        "django.contrib.staticfiles", "channels_classic.apps.ChannelsClassicConfig"]):
        assert len(check_app_order()) == 1
    with override_settings(INSTALLED_APPS=["channels_classic"]):
        assert check_app_order() == []


def _server_config(**options):
    from channels_classic.management.commands.runserver import Command

    command = Command()
    command.addr, command.port = "0", "8123"
    return command.server_config({"http_timeout": 60.0, "websocket_handshake_timeout": 5.0,
                                  **options})


def test_server_config_from_options_and_settings():
    with override_settings(CHANNELS_WS_PROTOCOLS=None, FORCE_SCRIPT_NAME=None):
        config = _server_config()
    assert config.endpoints == ("tcp:port=8123:interface=0.0.0.0",)
    assert (config.http_timeout, config.request_head_timeout) == (60.0, 5.0)
    assert config.ws_protocols == () and config.root_path == ""
    with override_settings(CHANNELS_WS_PROTOCOLS=["a", "b"], FORCE_SCRIPT_NAME="/mounted/"):
        config = _server_config()
    assert config.ws_protocols == ("a", "b") and config.root_path == "/mounted"


@pytest.mark.parametrize("value", [0.0, -1.0])
def test_http_timeout_zero_or_less_means_no_limit(value):
    assert _server_config(http_timeout=value).http_timeout is None


def test_bad_timeout_is_a_command_error_naming_the_option():
    with pytest.raises(CommandError, match="--websocket_handshake_timeout must be > 0"):
        _server_config(websocket_handshake_timeout=0.0)
