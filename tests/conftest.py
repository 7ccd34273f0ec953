"""Shared fixtures: real redis-server instances on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.redis_server import RedisServer, start_redis


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
