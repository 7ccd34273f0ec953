"""Shared fixtures: real redis-server instances on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core import signals
from django.db import close_old_connections

from channels_classic.signals import consumer_finished, consumer_started
from tests.support.redis_server import RedisServer, start_redis


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "real_connection_signals: keep close_old_connections connected to the request and "
        "consumer signals (tests that check the worker recycles database connections)",
    )


@pytest.fixture(autouse=True)
def keep_test_database_connection(request: pytest.FixtureRequest) -> Iterator[None]:
    """Don't let request/consumer signals recycle the test database connection.

    Django's own test client does the same: during tests the connection belongs to the test
    framework (an in-memory SQLite database would vanish, and pytest-django forbids touching it
    without the db mark).  The signals are still sent.  Tests marked
    ``real_connection_signals`` keep the production wiring.
    """
    if request.node.get_closest_marker("real_connection_signals"):
        yield
        return
    hooked = [signals.request_started, signals.request_finished, consumer_started,
              consumer_finished]
    disconnected = [signal for signal in hooked if signal.disconnect(close_old_connections)]
    try:
        yield
    finally:
        for signal in disconnected:
            signal.connect(close_old_connections)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole test session."""
    server = start_redis()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's redis-server, emptied before the test."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_shards() -> Iterator[list[RedisServer]]:
    """Three independent redis-servers for sharding tests (session-wide)."""
    servers = [start_redis() for _ in range(3)]
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


@pytest.fixture
def redis_shard_urls(redis_shards: list[RedisServer]) -> list[str]:
    """URLs of the three shard servers, each emptied before the test."""
    for server in redis_shards:
        if server.process is None or server.process.poll() is not None:
            server.start()
        client = server.client()
        try:
            client.flushall()
        finally:
            client.close()
    return [server.url for server in redis_shards]


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], RedisServer]]:
    """Start private redis-servers (e.g. to kill and restart); all stopped after the test."""
    started: list[RedisServer] = []

    def make() -> RedisServer:
        server = start_redis()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.close()
