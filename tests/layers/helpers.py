"""Helpers shared by the layer tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import redis

T = TypeVar("T")


def run_async(layers: Iterable[Any], body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body()`` on a fresh event loop, then close the layers' clients on that loop."""

    async def main() -> T:
        try:
            return await body()
        finally:
            for layer in layers:
                closer = getattr(layer, "close_async", None)
                if closer is not None:
                    await closer()

    return asyncio.run(main())


def reset_command_stats(urls: Iterable[str]) -> None:
    """``CONFIG RESETSTAT`` on each server, so command counts start from zero."""
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            client.config_resetstat()
        finally:
            client.close()


def command_counts(url: str) -> dict[str, int]:
    """Calls per command since the last reset, from ``INFO commandstats`` (lower-case names)."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    counts: dict[str, int] = {}
    for name, value in stats.items():
        command = name.removeprefix("cmdstat_")
        counts[command] = int(value["calls"])
    return counts


def layer_commands(url: str) -> dict[str, int]:
    """:func:`command_counts` without the commands the test itself used to read them."""
    counts = command_counts(url)
    for noise in ("info", "config|resetstat", "client|setinfo", "hello", "ping", "select"):
        counts.pop(noise, None)
    return counts


def all_keys(url: str) -> list[bytes]:
    """Every key on a server (SCAN), sorted."""
    client = redis.Redis.from_url(url)
    try:
        return sorted(client.scan_iter(count=1000))
    finally:
        client.close()
