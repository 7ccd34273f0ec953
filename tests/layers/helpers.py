"""Helpers shared by the layer tests."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
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


#: Connection set-up and health checks: not layer operations.
_HANDSHAKE = ("HELLO", "CLIENT", "PING", "SELECT", "AUTH")
_END_MARKER = "__commands_recorded__"


class RecordedCommands:
    """Commands clients sent to one server, as seen by ``MONITOR``; see :func:`record_commands`.

    Commands run *inside* Lua scripts are not counted: ``MONITOR`` tags them ``lua``.
    """

    def __init__(self) -> None:
        self.commands: list[str] = []

    @property
    def counts(self) -> Counter[str]:
        """Top-level command names (upper case) and how often each was sent."""
        return Counter(command.split(" ", 1)[0].upper() for command in self.commands)


@contextmanager
def record_commands(url: str) -> Iterator[RecordedCommands]:
    """Record every top-level command sent to ``url`` inside the ``with`` block."""
    recorded = RecordedCommands()
    client = redis.Redis.from_url(url)
    ready = threading.Event()
    failure: list[BaseException] = []

    def watch() -> None:
        try:
            with client.monitor() as monitor:
                ready.set()
                for event in monitor.listen():
                    command = str(event["command"])
                    if command.startswith(f"ECHO {_END_MARKER}"):
                        return
                    if event.get("client_type") == "lua" or command.startswith(_HANDSHAKE):
                        continue
                    recorded.commands.append(command)
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield recorded
    finally:
        marker = redis.Redis.from_url(url)
        try:
            marker.echo(_END_MARKER)
        finally:
            marker.close()
        thread.join(10)
        client.close()
    if failure:
        raise failure[0]


def wait_until_blocked(urls: Iterable[str], timeout: float = 10.0) -> None:
    """Return once every server in ``urls`` has a client blocked in ``BLMPOP``."""
    import time

    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            deadline = time.monotonic() + timeout
            while not any(
                "b" in entry["flags"] and entry["cmd"] == "blmpop"
                for entry in client.client_list()
            ):
                if time.monotonic() > deadline:
                    raise AssertionError(f"no client blocked in BLMPOP on {url}")
                time.sleep(0.01)
        finally:
            client.close()
