"""``RedisSentinelChannelLayer``: the Redis layer with masters found through Redis Sentinel.

Each Sentinel *service* (a monitored master) is one shard; the rendezvous hash runs over the
service names, so a failover inside a service moves nothing.  redis-py's Sentinel connection
pools ask Sentinel for the master's address whenever they open a connection, and drop idle
connections to a master that is no longer the master; ``sentinel_refresh_interval`` lets a
process reuse an answer for that many seconds instead.  With ``services=None`` the services
are discovered with ``SENTINEL MASTERS`` on first use (sorted by name), as asgi_redis did.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

from ..base import DEFAULT_CAPACITY, DEFAULT_EXPIRY, DEFAULT_GROUP_EXPIRY, LayerUnavailable
from .core import RedisChannelLayer
from .transport import Endpoint, client_options, translate_errors

__all__ = ["RedisSentinelChannelLayer"]

DEFAULT_SENTINEL_HOSTS: list[tuple[str, int]] = [("localhost", 26379)]


class _MasterCache:
    """Remembers each service's master address for ``interval`` seconds (0: never)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def get(self, service: str) -> Any:
        if self.interval <= 0:
            return None
        with self._lock:
            entry = self._cache.get(service)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    def put(self, service: str, address: Any) -> None:
        if self.interval > 0:
            with self._lock:
                self._cache[service] = (time.monotonic() + self.interval, address)


class _Sentinel(redis.sentinel.Sentinel):
    """redis-py's Sentinel manager with the optional master-address cache."""

    def __init__(self, *args: Any, master_cache: _MasterCache, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._master_cache = master_cache

    def discover_master(self, service_name: str) -> Any:
        cached = self._master_cache.get(service_name)
        if cached is None:
            cached = super().discover_master(service_name)
            self._master_cache.put(service_name, cached)
        return cached


class _AsyncSentinel(redis.asyncio.sentinel.Sentinel):
    """The asyncio twin of :class:`_Sentinel`."""

    def __init__(self, *args: Any, master_cache: _MasterCache, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._master_cache = master_cache

    async def discover_master(self, service_name: str) -> Any:
        cached = self._master_cache.get(service_name)
        if cached is None:
            cached = await super().discover_master(service_name)
            self._master_cache.put(service_name, cached)
        return cached


class _SentinelManagers:
    """The Sentinel managers of one layer: one sync, one per event loop."""

    def __init__(
        self,
        sentinels: list[tuple[str, int]],
        sentinel_kwargs: dict[str, Any],
        refresh_interval: float,
    ) -> None:
        self.sentinels = sentinels
        self.sentinel_kwargs = sentinel_kwargs
        self.cache = _MasterCache(refresh_interval)
        self.sync = _Sentinel(
            sentinels, sentinel_kwargs=self._kwargs(asyncio=False), master_cache=self.cache
        )
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncSentinel] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _kwargs(self, asyncio: bool) -> dict[str, Any]:
        # Short timeouts and one quick retry: a Sentinel that does not answer is skipped for
        # the next one rather than waited for (redis-py's default retry takes seconds).
        options = {
            key: value
            for key, value in client_options(
                {}, blocking=False, receive_timeout=0, asyncio=asyncio
            ).items()
            if key in ("socket_connect_timeout", "socket_timeout", "retry")
        }
        options.update(self.sentinel_kwargs)
        return options

    def for_loop(self) -> _AsyncSentinel:
        loop = asyncio.get_running_loop()
        with self._lock:
            manager = self._async.get(loop)
            if manager is None:
                manager = _AsyncSentinel(
                    self.sentinels, sentinel_kwargs=self._kwargs(asyncio=True),
                    master_cache=self.cache,
                )
                self._async[loop] = manager
            return manager

    async def close_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            manager = self._async.pop(loop, None)
        if manager is not None:
            for client in manager.sentinels:
                closer = getattr(client, "aclose", None) or client.close
                with contextlib.suppress(Exception):
                    await closer()

    def close(self) -> None:
        for client in self.sync.sentinels:
            with contextlib.suppress(Exception):
                client.close()

    def discover_services(self) -> list[str]:
        """Names of the masters the first answering Sentinel monitors (sorted)."""
        errors = []
        for client in self.sync.sentinels:
            try:
                masters = client.sentinel_masters()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                errors.append(f"{client.connection_pool.connection_kwargs.get('host')}: {exc}")
                continue
            return sorted(str(name) for name in masters)
        raise LayerUnavailable(f"No Sentinel answered SENTINEL MASTERS: {'; '.join(errors)}")


class SentinelEndpoint(Endpoint):
    """The master of one Sentinel service."""

    def __init__(self, service: str, managers: _SentinelManagers, loop_closer: bool) -> None:
        super().__init__()
        self.service = service
        self.managers = managers
        self.label = f"Sentinel service {service!r}"
        self.hash_id = service
        # Only one endpoint per layer closes the shared Sentinel clients.
        self._closes_managers = loop_closer

    def sync_client(self, options: dict[str, Any]) -> redis.Redis:
        return self.managers.sync.master_for(self.service, **options)

    def async_client(self, options: dict[str, Any]) -> redis.asyncio.Redis:
        return self.managers.for_loop().master_for(self.service, **options)

    async def close_loop_resources(self) -> None:
        if self._closes_managers:
            await self.managers.close_loop()

    def close(self) -> None:
        if self._closes_managers:
            self.managers.close()


def _parse_sentinels(hosts: object) -> list[tuple[str, int]]:
    if hosts is None:
        return list(DEFAULT_SENTINEL_HOSTS)
    if isinstance(hosts, (str, bytes)):
        raise ValueError(
            "hosts must be a list of Sentinel (host, port) tuples, not a single string"
        )
    parsed: list[tuple[str, int]] = []
    try:
        entries: list[Any] = list(hosts)  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(
            f"hosts must be a list of Sentinel (host, port) tuples, not {type(hosts).__name__}"
        ) from None
    for position, entry in enumerate(entries):
        if (
            not isinstance(entry, (tuple, list))
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or isinstance(entry[1], bool)
            or not isinstance(entry[1], int)
        ):
            raise ValueError(
                f"hosts[{position}] = {entry!r}: Sentinel addresses are (host, port) tuples"
            )
        parsed.append((entry[0], entry[1]))
    if not parsed:
        raise ValueError("hosts is empty; list at least one Sentinel (host, port)")
    return parsed


def _parse_services(services: object) -> list[str] | None:
    if services is None:
        return None
    if isinstance(services, (str, bytes)):
        raise ValueError(
            f"services must be a list of Sentinel service names, not a single string; "
            f"write services=[{services!r}]"
        )
    names = list(services)  # type: ignore[call-overload]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"services must be a non-empty list of names, not {services!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"services lists a name twice: {names!r}")
    return names


class RedisSentinelChannelLayer(RedisChannelLayer):
    """:class:`RedisChannelLayer` whose shards are Sentinel-monitored masters.

    Args:
        hosts: Sentinel ``(host, port)`` tuples (default ``[("localhost", 26379)]``).
        services: master names to shard over; None discovers them with ``SENTINEL MASTERS``.
        sentinel_refresh_interval: seconds a master address found through Sentinel is reused
            for new connections; 0 asks Sentinel for every new connection.
        sentinel_kwargs: redis-py arguments for the connections to the Sentinels themselves.

    Every other argument is :class:`RedisChannelLayer`'s; ``connection_kwargs`` apply to the
    connections to the masters.
    """

    def __init__(
        self,
        expiry: float = DEFAULT_EXPIRY,
        hosts: Any = None,
        prefix: str = "asgi:",
        group_expiry: float = DEFAULT_GROUP_EXPIRY,
        capacity: int = DEFAULT_CAPACITY,
        channel_capacity: Any = None,
        symmetric_encryption_keys: Sequence[str | bytes] | None = None,
        stats_prefix: str = "asgi-meta:",
        connection_kwargs: dict[str, Any] | None = None,
        services: Sequence[str] | None = None,
        sentinel_refresh_interval: float = 0,
        *,
        sentinel_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(sentinel_refresh_interval, (int, float)) or (
            sentinel_refresh_interval < 0
        ):
            raise ValueError(
                f"sentinel_refresh_interval must be >= 0 seconds, not "
                f"{sentinel_refresh_interval!r}"
            )
        self.services = _parse_services(services)
        self.sentinel_refresh_interval = sentinel_refresh_interval
        self._sentinel_kwargs = dict(sentinel_kwargs or {})
        super().__init__(
            expiry=expiry,
            hosts=hosts,
            prefix=prefix,
            group_expiry=group_expiry,
            capacity=capacity,
            channel_capacity=channel_capacity,
            symmetric_encryption_keys=symmetric_encryption_keys,
            stats_prefix=stats_prefix,
            connection_kwargs=connection_kwargs,
            **kwargs,
        )

    def _init_endpoints(self) -> None:
        self.sentinels = _parse_sentinels(self._hosts_setting)
        self.hosts = [f"{host}:{port}" for host, port in self.sentinels]
        self._managers = _SentinelManagers(
            self.sentinels, self._sentinel_kwargs, float(self.sentinel_refresh_interval)
        )
        if self.services is not None:
            # Known services need no I/O now; otherwise they are discovered on first use.
            self._topo = self._make_topology(self._endpoints_for(self.services))

    def _endpoints_for(self, services: list[str]) -> list[Endpoint]:
        return [
            SentinelEndpoint(name, self._managers, loop_closer=index == 0)
            for index, name in enumerate(services)
        ]

    def _discover_endpoints(self) -> list[Endpoint]:
        with translate_errors("Sentinel"):
            services = self._managers.discover_services()
        if not services:
            raise LayerUnavailable(
                f"The Sentinels at {', '.join(self.hosts)} monitor no masters; pass "
                "services=[...] or configure 'sentinel monitor' on them"
            )
        self.services = services
        return self._endpoints_for(services)
