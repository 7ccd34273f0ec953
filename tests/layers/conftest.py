"""Fixtures of the layer tests: one factory parametrized over every layer implementation.

``make_layer(**kwargs)`` builds the layer under test (in-memory, Redis on one server, Redis
sharded over three servers) with the test's fake clock and a short ``receive_timeout``; every
layer made is closed after the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from channels_classic.layers import BaseChannelLayer, InMemoryChannelLayer
from channels_classic.layers.redis import RedisChannelLayer


class FakeClock:
    """A wall clock that only moves when told to (starts at the real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


LAYER_KINDS = [
    pytest.param("inmemory", id="inmemory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("redis-sharded", id="redis-3-shards", marks=pytest.mark.redis),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=LAYER_KINDS)
def layer_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_layer(
    request: pytest.FixtureRequest, layer_kind: str, clock: FakeClock
) -> Iterator[Callable[..., BaseChannelLayer]]:
    """Factory for the layer under test; kwargs go to the layer's constructor."""
    created: list[BaseChannelLayer] = []

    def make(**kwargs: Any) -> BaseChannelLayer:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("receive_timeout", 0.3)
        layer: BaseChannelLayer
        if layer_kind == "inmemory":
            layer = InMemoryChannelLayer(**kwargs)
        elif layer_kind == "redis":
            layer = RedisChannelLayer(hosts=[request.getfixturevalue("redis_url")], **kwargs)
        else:
            layer = RedisChannelLayer(hosts=request.getfixturevalue("redis_shard_urls"), **kwargs)
        created.append(layer)
        return layer

    try:
        yield make
    finally:
        for layer in created:
            layer.close()


@pytest.fixture
def layer(make_layer: Callable[..., BaseChannelLayer]) -> BaseChannelLayer:
    """The layer under test with default settings."""
    return make_layer()


@pytest.fixture
def make_redis_layer(
    request: pytest.FixtureRequest, clock: FakeClock
) -> Iterator[Callable[..., RedisChannelLayer]]:
    """Factory for Redis layers on the session server (``hosts`` may be overridden)."""
    created: list[RedisChannelLayer] = []

    def make(**kwargs: Any) -> RedisChannelLayer:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("receive_timeout", 0.3)
        if "hosts" not in kwargs:
            kwargs["hosts"] = [request.getfixturevalue("redis_url")]
        layer = RedisChannelLayer(**kwargs)
        created.append(layer)
        return layer

    try:
        yield make
    finally:
        for layer in created:
            layer.close()
