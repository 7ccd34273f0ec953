"""Fixtures for the end-to-end tests: a private Redis and the example site's processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Site, Stack, start_processes, start_with_honcho
from tests.support.redis_server import RedisServer, start_redis


@pytest.fixture(scope="module")
def e2e_redis() -> Iterator[RedisServer]:
    """A redis-server of this module's own, so a test may restart it."""
    server = start_redis()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def released_site(
    e2e_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A site whose database the Procfile's ``release`` line has migrated."""
    site = Site(tmp_path_factory.mktemp("site"), e2e_redis.url)
    try:
        site.release()
        yield site
    finally:
        site.stop_all()


@pytest.fixture(scope="module")
def honcho_stack(released_site: Site) -> Iterator[Stack]:
    """``honcho start -c worker=2 web worker`` against the module's Redis."""
    stack = start_with_honcho(released_site, workers=2)
    try:
        yield stack
    finally:
        assert stack.honcho is not None
        stack.honcho.stop()


def fresh_stack(directory: Path, redis: RedisServer, workers: int = 2) -> Stack:
    """A migrated site with each Procfile process in its own process group (to signal one)."""
    site = Site(directory, redis.url)
    try:
        site.release()
        return start_processes(site, workers=workers)
    except BaseException:
        site.stop_all()
        raise
