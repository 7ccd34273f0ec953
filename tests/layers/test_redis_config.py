"""Configuration of the Redis layers: host lists, URLs (TLS, AUTH, unix), prefixes, versions.

Pure logic: nothing here opens a connection (redis-py connects lazily).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from channels_classic.asgi import build_layer
from channels_classic.layers import RedisChannelLayer as LazyRedisChannelLayer
from channels_classic.layers import RedisSentinelChannelLayer as LazySentinelLayer
from channels_classic.layers.redis import (
    RedisChannelLayer,
    RedisSentinelChannelLayer,
    UnsupportedRedis,
    check_redis_version,
    parse_hosts,
    parse_redis_version,
)
from channels_classic.layers.redis.config import redacted_url, validate_prefix
from channels_classic.layers.redis.transport import UrlEndpoint, client_options


def test_layers_are_reachable_from_the_package_and_legacy_paths() -> None:
    assert LazyRedisChannelLayer is RedisChannelLayer
    assert LazySentinelLayer is RedisSentinelChannelLayer
    layer = build_layer("asgi_redis.RedisChannelLayer", {"hosts": [("localhost", 6379)]}, "x")
    assert isinstance(layer, RedisChannelLayer)
    layer.close()


def test_default_host_is_localhost() -> None:
    (spec,) = parse_hosts(None)
    assert spec.url == "redis://localhost:6379/0"
    assert spec.label == "redis://localhost:6379/0"


def test_tuples_urls_and_dicts() -> None:
    specs = parse_hosts([
        ("10.0.0.1", 6379),
        ["10.0.0.2", 6380],
        "redis://:secret@cache.example:6381/3",
        "unix:///run/redis.sock?db=2",
        {"address": "rediss://cache.example:6390/0", "ssl_cert_reqs": "none"},
        ("::1", 6379),
    ])
    assert [spec.url for spec in specs[:2]] == ["redis://10.0.0.1:6379/0", "redis://10.0.0.2:6380/0"]
    assert specs[2].url == "redis://:secret@cache.example:6381/3"
    assert specs[2].label == "redis://cache.example:6381/3"  # no password in logs
    assert specs[3].label == "unix:///run/redis.sock"
    assert specs[4].options == {"ssl_cert_reqs": "none"}
    assert specs[5].url == "redis://[::1]:6379/0"


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("redis://localhost:6379", "not a single string"),
        (b"localhost", "not a single string"),
        ([], "hosts is empty"),
        ([("localhost",)], "a host tuple is"),
        ([("localhost", "6379")], "the port must be an int"),
        ([("localhost", 0)], "the port must be an int"),
        (["http://localhost:6379"], "URL scheme must be one of"),
        ([{"host": "x"}], "without an 'address' key"),
        ([42], "use a \\(host, port\\) tuple"),
        ([("a", 1), "redis://a:1/0"], "same server more than once"),
        (42, "not int"),
    ],
)
def test_bad_hosts_say_what_to_write(hosts: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hosts(hosts)
    with pytest.raises(ValueError, match=message):
        RedisChannelLayer(hosts=hosts)


def test_tls_url_builds_a_tls_connection_with_auth_and_db() -> None:
    endpoint = UrlEndpoint("rediss://user:pw@cache.example:6380/2?ssl_cert_reqs=none",
                           "rediss://cache.example:6380/2")
    client = endpoint.sync_client(
        client_options({}, blocking=False, receive_timeout=1.0, asyncio=False)
    )
    try:
        pool = client.connection_pool
        assert issubclass(pool.connection_class, redis.SSLConnection)
        kwargs = pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example", 6380, 2)
        assert (kwargs["username"], kwargs["password"]) == ("user", "pw")
        assert kwargs["ssl_cert_reqs"] == "none"
    finally:
        client.close()


def test_unix_url_builds_a_unix_socket_connection() -> None:
    endpoint = UrlEndpoint("unix:///run/redis.sock?db=4", "unix:///run/redis.sock")
    client = endpoint.sync_client(
        client_options({}, blocking=False, receive_timeout=1.0, asyncio=False)
    )
    try:
        pool = client.connection_pool
        assert issubclass(pool.connection_class, redis.UnixDomainSocketConnection)
        assert pool.connection_kwargs["path"] == "/run/redis.sock"
        assert pool.connection_kwargs["db"] == 4
    finally:
        client.close()


def test_redacted_url() -> None:
    assert redacted_url("rediss://u:p@h:1/5") == "rediss://h:1/5"
    assert redacted_url("redis://h") == "redis://h/0"
    assert redacted_url("redis://[::1]:7/0") == "redis://[::1]:7/0"


def test_blocking_client_timeout_outlasts_the_blocking_pop() -> None:
    options = client_options({"socket_timeout": 1.0}, blocking=True, receive_timeout=10,
                             asyncio=False)
    assert options["socket_timeout"] > 10
    plain = client_options({"socket_timeout": 1.0}, blocking=False, receive_timeout=10,
                           asyncio=False)
    assert plain["socket_timeout"] == 1.0
    assert plain["retry"] is not options["retry"]


def test_connection_kwargs_are_copied() -> None:
    kwargs = {"socket_timeout": 3}
    layer = RedisChannelLayer(connection_kwargs=kwargs)
    kwargs["socket_timeout"] = 99
    assert layer.connection_kwargs == {"socket_timeout": 3}
    layer.close()


@pytest.mark.parametrize(
    ("kwargs", "exception", "message"),
    [
        ({"prefix": ""}, ValueError, "flush"),
        ({"prefix": b"asgi:"}, TypeError, "prefix must be a str"),
        ({"prefix": "a b"}, ValueError, "whitespace"),
        ({"prefix": "x:", "stats_prefix": "x:"}, ValueError, "must not be prefixes"),
        ({"prefix": "x:", "stats_prefix": "x:stats:"}, ValueError, "must not be prefixes"),
        ({"connection_kwargs": [("a", 1)]}, TypeError, "connection_kwargs must be a dict"),
        ({"symmetric_encryption_keys": "secret"}, ValueError, "not a single string"),
        ({"symmetric_encryption_keys": []}, ValueError, "is empty"),
        ({"capacity": 0}, ValueError, "capacity"),
        ({"expiry": 0}, ValueError, "expiry"),
    ],
)
def test_bad_layer_arguments(kwargs: dict[str, Any], exception: type[Exception],
                             message: str) -> None:
    with pytest.raises(exception, match=message):
        RedisChannelLayer(**kwargs)


def test_validate_prefix() -> None:
    assert validate_prefix("prefix", "asgi:") == "asgi:"


@pytest.mark.parametrize(
    ("text", "version"),
    [("7.0.15", (7, 0, 15)), ("7.2.4-rc1", (7, 2, 4)), ("255.255.255", (255, 255, 255)),
     ("8", (8,))],
)
def test_parse_redis_version(text: str, version: tuple[int, ...]) -> None:
    assert parse_redis_version(text) == version


def test_check_redis_version_accepts_7_and_later() -> None:
    assert check_redis_version("7.0.0", "redis://h:1/0") == (7, 0, 0)
    assert check_redis_version("7.4.1", "redis://h:1/0") == (7, 4, 1)


@pytest.mark.parametrize("text", ["6.2.14", "5.0.7", "2.8.24"])
def test_check_redis_version_rejects_older_servers_naming_the_version(text: str) -> None:
    with pytest.raises(UnsupportedRedis, match=rf"runs Redis {text}; .*needs Redis >= 7\.0") as e:
        check_redis_version(text, "redis://cache:6379/0")
    assert "redis://cache:6379/0" in str(e.value)


@pytest.mark.parametrize("text", [None, "", "unknown"])
def test_check_redis_version_rejects_unknown_servers(text: str | None) -> None:
    with pytest.raises(UnsupportedRedis, match=r"needs Redis >= 7\.0"):
        check_redis_version(text, "redis://cache:6379/0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": "localhost:26379"}, "not a single string"),
        ({"hosts": ["redis://localhost:26379"]}, "are \\(host, port\\) tuples"),
        ({"hosts": []}, "hosts is empty"),
        ({"services": "mymaster"}, "not a single string"),
        ({"services": []}, "non-empty list"),
        ({"services": ["a", "a"]}, "twice"),
        ({"sentinel_refresh_interval": -1}, "sentinel_refresh_interval"),
    ],
)
def test_bad_sentinel_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RedisSentinelChannelLayer(**kwargs)


def test_sentinel_layer_with_known_services_needs_no_io() -> None:
    layer = RedisSentinelChannelLayer(hosts=[("localhost", 1)], services=["b", "a"])
    assert layer.shard_labels == ["Sentinel service 'b'", "Sentinel service 'a'"]
    layer.close()
