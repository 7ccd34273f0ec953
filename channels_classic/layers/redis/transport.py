"""Connections to one Redis shard, for the sync and the asyncio API.

A shard is reached through an :class:`Endpoint` (a URL, or a Sentinel service).  Each shard
gets two redis-py clients per API: one for ordinary commands with a short socket timeout, so an
unreachable server is reported quickly, and one for blocking pops whose socket timeout is
longer than the longest ``BLMPOP`` the layer issues.

Resilience comes from redis-py itself: every client has a ``Retry(ExponentialBackoff)`` policy
for connection errors (a stale pooled connection after a Redis restart is replaced
transparently) and periodic health checks on idle connections.  Whatever is still failing after
that surfaces as :class:`~..base.LayerUnavailable` naming the shard, and the same client keeps
working once the server is back.  Timeouts are deliberately *not* retried: a script that timed
out may have run, and running a send twice would deliver a message twice.

Scripts run with ``EVALSHA``; on ``NOSCRIPT`` (first use, or a restarted server) the script is
loaded and the call repeated, which is safe because ``NOSCRIPT`` means nothing ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    NoScriptError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)
from redis.retry import Retry

from ..base import LayerUnavailable
from .config import check_redis_version
from .scripts import LuaScript

try:  # optional (the ``hiredis`` extra): packs commands in C
    import hiredis
    from redis._parsers.hiredis import _AsyncHiredisParser, _HiredisParser
except ImportError:  # pragma: no cover - exercised by installs without the extra
    hiredis = None
    _AsyncHiredisParser = _HiredisParser = None

__all__ = [
    "AsyncShard",
    "Endpoint",
    "ScriptCall",
    "SyncShard",
    "client_options",
    "translate_errors",
]

#: Seconds to wait for a TCP/TLS connection before calling the shard unavailable.
DEFAULT_SOCKET_CONNECT_TIMEOUT = 2.0
#: Seconds to wait for the reply to an ordinary command.
DEFAULT_SOCKET_TIMEOUT = 5.0
#: Extra seconds a blocking client waits beyond the BLMPOP timeout before giving up.
BLOCKING_TIMEOUT_MARGIN = 5.0
#: Idle seconds after which a pooled connection is PINGed before use.
DEFAULT_HEALTH_CHECK_INTERVAL = 15
#: Retries of a command after a connection error, with exponential backoff between them.
CONNECTION_RETRIES = 2
BACKOFF_BASE = 0.05
BACKOFF_CAP = 0.5

#: (script, keys, args) for one EVALSHA.
ScriptCall = tuple[LuaScript, Sequence[str | bytes], Sequence[str | bytes | int | float]]

_UNAVAILABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)


class _TranslateErrors:
    # A class rather than a generator-based context manager: it wraps every Redis call.
    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: Any) -> bool:
        if exc is not None and isinstance(exc, _UNAVAILABLE_ERRORS):
            raise LayerUnavailable(f"Redis at {self.label} is unavailable: {exc}") from exc
        return False


def translate_errors(label: str) -> contextlib.AbstractContextManager[None]:
    """Turn connection-level failures into :class:`LayerUnavailable` naming the shard."""
    return _TranslateErrors(label)


def client_options(
    connection_kwargs: dict[str, Any], *, blocking: bool, receive_timeout: float, asyncio: bool
) -> dict[str, Any]:
    """redis-py client keyword arguments: our defaults, overridden by ``connection_kwargs``.

    The blocking client's socket timeout is raised above the ``BLMPOP`` timeout, whatever the
    user set, or every idle blocking pop would end in a timeout error.
    """
    retry_class = redis.asyncio.retry.Retry if asyncio else Retry
    options: dict[str, Any] = {
        "socket_connect_timeout": DEFAULT_SOCKET_CONNECT_TIMEOUT,
        "socket_timeout": DEFAULT_SOCKET_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": DEFAULT_HEALTH_CHECK_INTERVAL,
        "retry": retry_class(
            ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE),
            CONNECTION_RETRIES,
            supported_errors=(RedisConnectionError,),
        ),
    }
    options.update(connection_kwargs)
    if blocking:
        needed = receive_timeout + BLOCKING_TIMEOUT_MARGIN
        current = options.get("socket_timeout")
        if current is not None and current < needed:
            options["socket_timeout"] = needed
    return options


class Endpoint:
    """How to reach one shard; subclasses build redis-py clients for it.

    Attributes:
        label: human-readable address without credentials.
        hash_id: stable identifier used by the rendezvous hash.
    """

    label: str
    hash_id: str

    def __init__(self) -> None:
        self.checked = False
        self.check_lock = threading.Lock()
        self.version: tuple[int, ...] = ()

    def sync_client(self, options: dict[str, Any]) -> redis.Redis:
        """A new sync client for this shard."""
        raise NotImplementedError

    def async_client(self, options: dict[str, Any]) -> redis.asyncio.Redis:
        """A new asyncio client for this shard (bind it to one event loop only)."""
        raise NotImplementedError

    async def close_loop_resources(self) -> None:
        """Release helpers this endpoint made for the running loop (Sentinel clients)."""

    def close(self) -> None:
        """Release helpers shared by the sync clients."""

    def record_info(self, info: dict[str, Any]) -> None:
        """Check the server's version from ``INFO server`` (once per endpoint)."""
        self.version = check_redis_version(info.get("redis_version"), self.label)
        self.checked = True


class UrlEndpoint(Endpoint):
    """A shard given by ``redis://``, ``rediss://`` or ``unix://`` URL."""

    def __init__(self, url: str, label: str, options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.url = url
        self.label = label
        self.hash_id = label
        self.options = dict(options or {})

    def sync_client(self, options: dict[str, Any]) -> redis.Redis:
        return redis.Redis.from_url(self.url, **{**options, **self.options})

    def async_client(self, options: dict[str, Any]) -> redis.asyncio.Redis:
        return redis.asyncio.Redis.from_url(self.url, **{**options, **self.options})


def _checkout(pool: Any) -> Any:
    try:
        return pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        return pool.get_connection("EVALSHA")


class _HeldConnection:
    """A pooled connection one thread keeps for itself.

    Taking a connection from redis-py's pool and giving it back costs about as much as the
    round trip itself on a fast local Redis; a worker thread sends and receives all the time,
    so it keeps one.  It goes back to the pool when the thread ends (the thread-local holding
    it is dropped), and is abandoned, not reused, in a forked child.
    """

    __slots__ = ("connection", "pid", "pool")

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.pid = os.getpid()
        self.connection = _checkout(pool)

    def __del__(self) -> None:
        if self.pid == os.getpid():
            with contextlib.suppress(Exception):
                self.pool.release(self.connection)


def pack_commands(connection: Any, commands: Sequence[tuple[Any, ...]]) -> bytes:
    """``commands`` in the Redis protocol, as one string of bytes.

    With hiredis installed this is one C call per command; redis-py's own packing does the
    same work in Python (and, on its asyncio connections, without hiredis at all).
    """
    if hiredis is not None:
        return b"".join([hiredis.pack_command(command) for command in commands])
    return b"".join(connection.pack_commands(commands))


def _evalsha_args(call: ScriptCall) -> tuple[Any, ...]:
    script, keys, args = call
    return ("EVALSHA", script.sha, len(keys), *keys, *args)


def _info_fields(info: Any) -> dict[str, Any]:
    return info if isinstance(info, dict) else {}


class SyncShard:
    """Thread-safe sync access to one shard (redis-py clients are thread-safe)."""

    def __init__(
        self,
        endpoint: Endpoint,
        connection_kwargs: dict[str, Any],
        receive_timeout: float,
        pop_client_name: str,
    ) -> None:
        self.endpoint = endpoint
        self.label = endpoint.label
        self.pop_client_name = pop_client_name
        self.commands = endpoint.sync_client(
            client_options(
                connection_kwargs, blocking=False, receive_timeout=receive_timeout,
                asyncio=False,
            )
        )
        # Named, so close() can find the connections blocked in BLMPOP and unblock them.
        self.blocking = endpoint.sync_client(
            {
                **client_options(
                    connection_kwargs, blocking=True, receive_timeout=receive_timeout,
                    asyncio=False,
                ),
                "client_name": pop_client_name,
            }
        )
        self._held = threading.local()
        self.blocking_used = False

    def _connection(self, client: redis.Redis) -> Any:
        """This thread's own connection of ``client``'s pool (taken on first use)."""
        pool = client.connection_pool
        held: _HeldConnection | None = getattr(self._held, str(id(pool)), None)
        if held is None or held.pid != os.getpid():
            held = _HeldConnection(pool)
            setattr(self._held, str(id(pool)), held)
        return held.connection

    @staticmethod
    def _with_retry(connection: Any, round_trip: Callable[[], Any]) -> Any:
        """Run ``round_trip`` under the connection's ``Retry`` policy, reconnecting between
        attempts."""

        def reconnect(error: Exception) -> None:
            # connect() (not send_command's implicit reconnect) lets a Sentinel connection
            # look up the current master.  It has its own retries: if it fails, the server
            # is down and the error ends the call now instead of retrying again around it.
            connection.disconnect()
            connection.connect()

        connection.connect()  # a no-op on a live connection
        return connection.retry.call_with_retry(round_trip, reconnect)

    def _call(self, client: redis.Redis, *args: Any) -> Any:
        """One command on this thread's own connection of ``client``'s pool.

        The client's ``Retry`` policy and health checks apply as for ``execute_command``;
        replies are returned raw (no response callbacks), which is what the layer wants.
        """
        connection = self._connection(client)

        def round_trip() -> Any:
            connection.send_packed_command([pack_commands(connection, (args,))])
            return connection.read_response()

        return self._with_retry(connection, round_trip)

    def _pipeline(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Several commands in one round trip on this thread's own connection.

        Error replies (``ResponseError``, e.g. ``NOSCRIPT``) are returned in place of their
        result; connection failures raise.  Cheaper than a redis-py ``Pipeline``, which
        takes a connection from the pool and gives it back on every call.
        """
        connection = self._connection(self.commands)

        packed = [pack_commands(connection, commands)]

        def round_trip() -> list[Any]:
            connection.send_packed_command(packed)
            if _reads_with_hiredis(connection):
                return _read_replies(connection, len(commands))
            results: list[Any] = []
            for _ in commands:
                try:
                    results.append(connection.read_response())
                except ResponseError as exc:  # every reply must be read, errors included
                    results.append(exc)
            return results

        result: list[Any] = self._with_retry(connection, round_trip)
        return result

    def _ensure_checked(self) -> None:
        if self.endpoint.checked:
            return
        with self.endpoint.check_lock:
            if not self.endpoint.checked:
                self.endpoint.record_info(_info_fields(self.commands.info("server")))

    def server_info(self) -> dict[str, Any]:
        """``INFO server`` of this shard (run_id, version...)."""
        with translate_errors(self.label):
            info = _info_fields(self.commands.info("server"))
            if not self.endpoint.checked:
                self.endpoint.record_info(info)
            return info

    def evalsha(self, call: ScriptCall) -> Any:
        """Run one script; loads it first if the server does not know it."""
        with translate_errors(self.label):
            self._ensure_checked()
            try:
                return self._call(self.commands, *_evalsha_args(call))
            except NoScriptError:
                self.commands.script_load(call[0].source)
                return self._call(self.commands, *_evalsha_args(call))

    def requeue(self, key: str, entries: Sequence[bytes], ttl_ms: int) -> None:
        """Put popped ``entries`` back at the head of ``key``, in their original order.

        Used when the layer closes with entries popped but not yet handed to any receiver;
        the envelopes still carry their own expiry, so nothing stale is resurrected.
        """
        with translate_errors(self.label):
            pipe = self.commands.pipeline(transaction=True)
            pipe.lpush(key, *reversed(entries))
            pipe.pexpire(key, ttl_ms)
            pipe.execute()

    def evalsha_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Run several scripts in one pipelined round trip.

        Returns one result per call; a failed call's entry is the exception instance.
        """
        if not calls:
            return []
        return self.evalsha_many_then(calls, None)[0]

    def evalsha_many_then(
        self, calls: Sequence[ScriptCall], extra: tuple[Any, ...] | None
    ) -> tuple[list[Any], Any]:
        """:meth:`evalsha_many`, plus one more command (``extra``) in the same round trip.

        Returns ``(script results, reply to extra)``; the extra reply is None without one,
        and may be a ``ResponseError`` instance.
        """
        commands = [_evalsha_args(call) for call in calls]
        if extra is not None:
            commands.append(extra)
        with translate_errors(self.label):
            self._ensure_checked()
            results = self._pipeline(commands)
            retry = [i for i, result in enumerate(results[:len(calls)])
                     if isinstance(result, NoScriptError)]
            if retry:
                for script in {calls[i][0] for i in retry}:
                    self.commands.script_load(script.source)
                rerun = self._pipeline([commands[i] for i in retry])
                for i, result in zip(retry, rerun, strict=True):
                    results[i] = result
            for result in results:
                if isinstance(result, _UNAVAILABLE_ERRORS):
                    raise result
        extra_result = results.pop() if extra is not None else None
        return results, extra_result

    def blmpop(self, keys: Sequence[str], timeout: float, count: int) -> Any:
        """``BLMPOP timeout n keys... LEFT COUNT count``: ``[key, [entries]]`` or None."""
        self.blocking_used = True
        with translate_errors(self.label):
            self._ensure_checked()
            return self._call(
                self.blocking, "BLMPOP", timeout, len(keys), *keys, "LEFT", "COUNT", count
            )

    def scan_unlink(self, pattern: str, batch: int = 500) -> int:
        """Delete every key matching ``pattern`` with SCAN + UNLINK; returns how many."""
        deleted = 0
        with translate_errors(self.label):
            batch_keys: list[bytes] = []
            for key in self.commands.scan_iter(match=pattern, count=batch):
                batch_keys.append(key)
                if len(batch_keys) >= batch:
                    deleted += int(self.commands.unlink(*batch_keys))
                    batch_keys.clear()
            if batch_keys:
                deleted += int(self.commands.unlink(*batch_keys))
        return deleted

    def scan_lengths(self, pattern: str, batch: int = 500) -> int:
        """Sum of ``LLEN`` over the lists matching ``pattern`` (SCAN, pipelined LLEN)."""
        total = 0
        with translate_errors(self.label):
            keys = list(self.commands.scan_iter(match=pattern, count=batch, _type="list"))
            for start in range(0, len(keys), batch):
                pipe = self.commands.pipeline(transaction=False)
                for key in keys[start : start + batch]:
                    pipe.llen(key)
                total += sum(int(n) for n in pipe.execute())
        return total

    def hgetall_many(self, keys: Sequence[str]) -> list[dict[bytes, bytes]]:
        """``HGETALL`` of several hashes in one round trip."""
        with translate_errors(self.label):
            pipe = self.commands.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            return list(pipe.execute())

    def zrange_live(self, key: str, cutoff: float) -> list[bytes]:
        """Members of a sorted set scored above ``cutoff``."""
        with translate_errors(self.label):
            # Without WITHSCORES and with decode_responses off, members come back as bytes.
            return cast(list[bytes], self.commands.zrangebyscore(key, f"({cutoff!r}", "+inf"))

    def unblock_pops(self) -> None:
        """End this client's blocked BLMPOPs now, as if they had timed out.

        ``CLIENT UNBLOCK`` is atomic on the server: a pop either already took its entries
        (and its reply is delivered) or returns nothing, so no message is lost.  Best effort:
        without the rights to list clients, the pops simply run to their timeout.
        """
        if not self.blocking_used:
            return
        with contextlib.suppress(Exception):
            for client in self.commands.client_list():
                if client.get("name") == self.pop_client_name and "b" in client.get("flags", ""):
                    self.commands.client_unblock(int(client["id"]))

    def close(self) -> None:
        """Disconnect both clients."""
        for client in (self.commands, self.blocking):
            with contextlib.suppress(Exception):
                client.close()
        self.endpoint.close()


def _reads_with_hiredis(connection: Any) -> bool:
    # RESP2 or RESP3 alike: the parser itself consumes push notifications between replies.
    return _HiredisParser is not None and isinstance(
        getattr(connection, "_parser", None), _HiredisParser)


def _read_replies(connection: Any, count: int) -> list[Any]:
    """``count`` replies read straight from a sync connection's hiredis parser.

    What ``Connection.read_response`` does per reply (error translation, disconnecting a
    connection left with unread replies, the health-check clock, a demoted Sentinel master),
    done once for the whole pipeline; error replies come back in place as ``ResponseError``.
    """
    parser = connection._parser
    results: list[Any] = []
    try:
        for _ in range(count):
            results.append(parser.read_response())
    except (RedisConnectionError, RedisTimeoutError):
        connection.disconnect()
        raise
    except OSError as exc:  # e.g. a reset connection
        connection.disconnect()
        raise RedisConnectionError(
            f"Error while reading from {connection.host}:{connection.port}: {exc}") from exc
    except BaseException:
        connection.disconnect()
        raise
    if connection.health_check_interval:
        connection.next_health_check = time.monotonic() + connection.health_check_interval
    if _from_demoted_master(connection, results):
        connection.disconnect()
        raise RedisConnectionError("The previous master is now a replica")
    return results


def _from_demoted_master(connection: Any, results: Sequence[Any]) -> bool:
    """True when a Sentinel master connection got ``READONLY``: the master it reached was
    demoted.  Reconnecting asks Sentinel for the new one (as redis-py's own Sentinel
    connections do), and retrying is safe because a replica refused every write."""
    pool = getattr(connection, "connection_pool", None)
    return bool(getattr(pool, "is_master", False)) and any(
        isinstance(result, ReadOnlyError) for result in results)


class AsyncShard:
    """asyncio access to one shard; bound to the event loop it was created on."""

    def __init__(
        self,
        endpoint: Endpoint,
        connection_kwargs: dict[str, Any],
        receive_timeout: float,
        pop_client_name: str,
    ) -> None:
        self.endpoint = endpoint
        self.label = endpoint.label
        self.pop_client_name = pop_client_name
        self.commands = endpoint.async_client(
            client_options(
                connection_kwargs, blocking=False, receive_timeout=receive_timeout,
                asyncio=True,
            )
        )
        # Named, so close() can find the connections blocked in BLMPOP and unblock them.
        self.blocking = endpoint.async_client(
            {
                **client_options(
                    connection_kwargs, blocking=True, receive_timeout=receive_timeout,
                    asyncio=True,
                ),
                "client_name": pop_client_name,
            }
        )
        #: Per client (by id): the connection this shard keeps for its round trips.
        self._held: dict[int, _AsyncHeld] = {}

    async def _pipeline(self, client: redis.asyncio.Redis, commands: Sequence[tuple[Any, ...]]
                        ) -> list[Any]:
        """Commands in one round trip: on the connection this shard holds for ``client`` when
        it is free, else on one from the pool.

        Error replies (``ResponseError``) are returned in place of their result; connection
        failures are retried with the connection's ``Retry`` policy, then raised.
        """
        held = self._held.get(id(client))
        if held is None:
            held = self._held[id(client)] = _AsyncHeld()
        if held.usable and not held.lock.locked():
            async with held.lock:
                connection = await held.take(client)
                if connection is not None:
                    return await _held_round_trips(connection, commands)
        return await self._pooled_pipeline(client, commands)

    @staticmethod
    async def _pooled_pipeline(client: redis.asyncio.Redis,
                               commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """:meth:`_pipeline` on a connection taken from ``client``'s pool for this call.

        This is what a redis-py ``Pipeline`` (or ``execute_command``) does, without its
        per-call bookkeeping, which costs more than the round trip on a local Redis.
        """
        pool = client.connection_pool
        connection = await pool.get_connection()

        async def round_trip() -> list[Any]:
            await connection.send_packed_command([pack_commands(connection, commands)])
            results: list[Any] = []
            for _ in commands:
                try:
                    results.append(await connection.read_response())
                except ResponseError as exc:  # every reply must be read, errors included
                    results.append(exc)
            return results

        async def reconnect(error: Exception) -> None:
            await connection.disconnect()

        try:
            result: list[Any] = await connection.retry.call_with_retry(round_trip, reconnect)
            return result
        except BaseException:
            # Cancelled or failed with replies unread: the connection must not be reused
            # as it is.
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    async def _ensure_checked(self) -> None:
        if not self.endpoint.checked:
            # A concurrent check from another coroutine or thread is harmless: both record
            # the same version.
            self.endpoint.record_info(_info_fields(await self.commands.info("server")))

    async def server_info(self) -> dict[str, Any]:
        """``INFO server`` of this shard."""
        with translate_errors(self.label):
            info = _info_fields(await self.commands.info("server"))
            if not self.endpoint.checked:
                self.endpoint.record_info(info)
            return info

    async def evalsha(self, call: ScriptCall) -> Any:
        """Run one script; loads it first if the server does not know it."""
        (result,) = await self.evalsha_many([call])
        if isinstance(result, Exception):
            raise result
        return result

    async def evalsha_many(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Run several scripts in one pipelined round trip (see :meth:`SyncShard.evalsha_many`)."""
        if not calls:
            return []
        commands = [_evalsha_args(call) for call in calls]
        with translate_errors(self.label):
            await self._ensure_checked()
            results = await self._pipeline(self.commands, commands)
            retry = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
            if retry:
                for script in {calls[i][0] for i in retry}:
                    await self.commands.script_load(script.source)
                rerun = await self._pipeline(self.commands, [commands[i] for i in retry])
                for i, result in zip(retry, rerun, strict=True):
                    results[i] = result
            for result in results:
                if isinstance(result, _UNAVAILABLE_ERRORS):
                    raise result
            return results

    async def blmpop(self, keys: Sequence[str], timeout: float, count: int) -> Any:
        """``BLMPOP``; see :meth:`SyncShard.blmpop`."""
        with translate_errors(self.label):
            await self._ensure_checked()
            (result,) = await self._pipeline(
                self.blocking, [("BLMPOP", timeout, len(keys), *keys, "LEFT", "COUNT", count)]
            )
            if isinstance(result, Exception):
                raise result
            return result

    async def unblock_pops(self) -> None:
        """End this loop's blocked BLMPOPs now; see :meth:`SyncShard.unblock_pops`."""
        with contextlib.suppress(Exception):
            for client in await self.commands.client_list():
                if client.get("name") == self.pop_client_name and "b" in client.get("flags", ""):
                    await self.commands.client_unblock(int(client["id"]))

    async def close(self) -> None:
        """Disconnect both clients."""
        for client in (self.commands, self.blocking):
            closer = getattr(client, "aclose", None) or client.close
            with contextlib.suppress(Exception):
                await closer()
        await self.endpoint.close_loop_resources()


class _AsyncHeld:
    """A connection of one asyncio client's pool, kept by an :class:`AsyncShard`.

    The interface server has one batch of sends and one blocking pop in flight at a time, so
    one connection per client carries nearly all of its traffic.  Taking it from redis-py's
    pool and giving it back on every round trip (a lock, connection checks, metrics, a task
    per write) cost more than the round trip itself; holding it, the round trip is one write
    and the replies read straight from redis-py's hiredis parser.  Anything concurrent (a
    second pop, a health probe during a batch) uses the pool as before.  Without hiredis the
    held path is not used at all.
    """

    __slots__ = ("connection", "lock", "usable")

    def __init__(self) -> None:
        self.connection: Any = None
        self.lock = asyncio.Lock()
        # asyncio.timeout is Python 3.11+; 3.10 keeps to the pool.
        self.usable = hiredis is not None and hasattr(asyncio, "timeout")

    async def take(self, client: redis.asyncio.Redis) -> Any:
        """The held connection (taken from the pool on first use), or None when the client's
        connections do not parse with hiredis."""
        if self.connection is None:
            pool = client.connection_pool
            connection = await pool.get_connection()
            if _AsyncHiredisParser is None or not isinstance(
                getattr(connection, "_parser", None), _AsyncHiredisParser
            ):
                self.usable = False
                await pool.release(connection)
                return None
            self.connection = connection
        return self.connection


async def _held_round_trips(connection: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """One pipelined round trip on a held connection, under its ``Retry`` policy."""
    packed = pack_commands(connection, commands)
    timeout = connection.socket_timeout

    async def round_trip() -> list[Any]:
        if not connection.is_connected:
            await connection.connect()  # handshake, AUTH, SELECT, CLIENT SETNAME, TLS
        connection._writer.write(packed)
        parser = connection._parser
        results: list[Any] = []
        try:
            async with asyncio.timeout(timeout):
                for _ in commands:
                    # Error replies come back as ResponseError instances, in their place.
                    results.append(await parser.read_response())
        except TimeoutError:
            # Not retried (see the module docstring): the commands may have run.
            raise RedisTimeoutError(
                f"Timeout reading from {connection.host}:{connection.port}") from None
        except OSError as exc:
            raise RedisConnectionError(
                f"Error reading from {connection.host}:{connection.port}: {exc}") from exc
        if _from_demoted_master(connection, results):
            await connection.disconnect()
            raise RedisConnectionError("The previous master is now a replica")
        return results

    async def reconnect(error: Exception) -> None:
        await connection.disconnect()

    try:
        result: list[Any] = await connection.retry.call_with_retry(round_trip, reconnect)
        return result
    except BaseException:
        # Cancelled or failed with replies unread: the connection must start afresh.
        await connection.disconnect()
        raise
