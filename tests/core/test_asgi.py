"""CHANNEL_LAYERS integration: manager, legacy backend strings, get_channel_layer, checks."""

from __future__ import annotations

import pytest
from django.test import override_settings

from channels_classic.asgi import (
    ChannelLayerManager,
    InvalidChannelLayerError,
    get_channel_layer,
    resolve_backend_path,
)
from channels_classic.checks import check_channel_layers, check_session_engine
from channels_classic.layers import InMemoryChannelLayer

ROUTING = "tests.testapp.routing.channel_routing"


def test_legacy_backend_strings_resolve():
    assert resolve_backend_path("asgiref.inmemory.ChannelLayer").endswith("InMemoryChannelLayer")
    assert resolve_backend_path("asgi_redis.RedisChannelLayer").endswith(
        "redis.RedisChannelLayer")
    assert resolve_backend_path("asgi_redis.RedisSentinelChannelLayer").endswith(
        "redis.RedisSentinelChannelLayer")
    with pytest.raises(InvalidChannelLayerError, match="Redis on localhost"):
        resolve_backend_path("asgi_ipc.IPCChannelLayer")


@override_settings(CHANNEL_LAYERS={"default": {
    "BACKEND": "asgiref.inmemory.ChannelLayer", "ROUTING": ROUTING,
    "CONFIG": {"capacity": 7}, "TEST_CONFIG": {"capacity": 3}}})
def test_manager_builds_lazily_and_wraps():
    manager = ChannelLayerManager()
    assert "default" in manager and "other" not in manager
    wrapper = manager["default"]
    assert wrapper is manager["default"]
    assert isinstance(wrapper.channel_layer, InMemoryChannelLayer)
    assert wrapper.channel_layer.capacity == 7
    assert wrapper.local_only()
    assert wrapper.ChannelFull is wrapper.channel_layer.ChannelFull
    assert manager.make_test_backend("default").channel_layer.capacity == 3
    wrapper.send("a", {"x": 1})
    assert wrapper.receive(["a"]) == ("a", {"x": 1})
    assert wrapper.router.channels == set()
    with pytest.raises(InvalidChannelLayerError, match="No channel layer named 'other'"):
        manager["other"]


@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "asgiref.inmemory.ChannelLayer"}})
def test_missing_routing_is_explained():
    with pytest.raises(InvalidChannelLayerError, match="has no ROUTING"):
        ChannelLayerManager()["default"]


@override_settings(CHANNEL_LAYERS={"default": {
    "BACKEND": "asgiref.inmemory.ChannelLayer", "ROUTING": ROUTING,
    "CONFIG": {"capacity": 0}}})
def test_bad_config_is_explained():
    with pytest.raises(InvalidChannelLayerError, match="capacity must be a positive int"):
        ChannelLayerManager()["default"]


def test_get_channel_layer_returns_the_raw_layer():
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)


@override_settings(CHANNEL_LAYERS={
    "a": {"BACKEND": "asgiref.inmemory.ChannelLayer"},
    "b": {"BACKEND": "no.such.Backend", "ROUTING": ROUTING},
    "c": {"BACKEND": "asgi_redis.RedisChannelLayer", "ROUTING": ROUTING,
          "CONFIG": {"hosts": "redis://localhost"}},
    "d": {"BACKEND": "asgi_ipc.IPCChannelLayer", "ROUTING": ROUTING},
})
def test_system_checks_have_ids_and_hints():
    ids = sorted(message.id for message in check_channel_layers())
    assert ids == ["channels_classic.E001", "channels_classic.E002", "channels_classic.E002",
                   "channels_classic.E003"]


@override_settings(CHANNEL_SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
def test_signed_cookie_channel_sessions_are_an_error():
    [message] = check_session_engine()
    assert message.id == "channels_classic.E004"


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
def test_signed_cookie_http_sessions_warn():
    [message] = check_session_engine()
    assert message.id == "channels_classic.W004"
    assert "CHANNEL_SESSION_ENGINE" in message.hint
