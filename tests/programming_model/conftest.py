"""Fixtures for the programming-model tests: layers installed as ``default``, session engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels_classic.asgi import ChannelLayerWrapper
from channels_classic.layers import InMemoryChannelLayer
from channels_classic.test import use_channel_layers


def make_layer(kind: str, request: pytest.FixtureRequest) -> ChannelLayerWrapper:
    """A fresh layer wrapper of ``kind`` ("inmemory" or "redis"), routed nowhere yet."""
    if kind == "inmemory":
        raw = InMemoryChannelLayer(receive_timeout=0.05)
    else:
        from channels_classic.layers.redis import RedisChannelLayer

        raw = RedisChannelLayer(hosts=[request.getfixturevalue("redis_url")],
                                receive_timeout=0.2)
        request.addfinalizer(raw.close)
    return ChannelLayerWrapper(raw, "default", [])


@pytest.fixture
def layer(request: pytest.FixtureRequest) -> Iterator[ChannelLayerWrapper]:
    """An in-memory layer installed as the ``default`` alias for the test."""
    wrapper = make_layer("inmemory", request)
    with use_channel_layers({"default": wrapper}):
        yield wrapper


@pytest.fixture(params=["inmemory", pytest.param("redis", marks=pytest.mark.redis)])
def any_layer(request: pytest.FixtureRequest) -> Iterator[ChannelLayerWrapper]:
    """The in-memory layer, then the Redis layer on a real redis-server, as ``default``."""
    wrapper = make_layer(request.param, request)
    with use_channel_layers({"default": wrapper}):
        yield wrapper


@pytest.fixture
def cache_sessions(settings):
    """Channel and HTTP sessions in the local-memory cache (no database needed)."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": "programming-model-tests"}
    }
    from django.core.cache import cache

    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users are created and logged in often here; real hashing would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
