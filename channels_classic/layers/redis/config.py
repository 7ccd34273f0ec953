"""Pure configuration logic of the Redis layers: host lists, key prefixes, server versions.

Everything here runs at construction time (or on the first reply from a server) and raises a
``ValueError``/``TypeError`` that says what to write instead, so a bad ``CHANNEL_LAYERS``
entry fails at startup rather than on the first message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from redis.connection import parse_url

__all__ = [
    "DEFAULT_HOSTS",
    "MIN_REDIS_VERSION",
    "HostSpec",
    "UnsupportedRedis",
    "check_redis_version",
    "parse_hosts",
    "parse_redis_version",
    "redacted_url",
    "validate_prefix",
]

#: asgi_redis's default: one server on localhost.
DEFAULT_HOSTS: list[Any] = [("localhost", 6379)]
#: BLMPOP (one blocking pop over several lists, several messages at once) arrived in 7.0.
MIN_REDIS_VERSION = (7, 0)

_SCHEMES = ("redis", "rediss", "unix")


class UnsupportedRedis(RuntimeError):
    """The Redis server is too old (or not Redis) for this layer."""


@dataclass(frozen=True)
class HostSpec:
    """One shard's address.

    Attributes:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL, credentials included.
        label: the same address without credentials, for logs and error messages.
        options: extra redis-py connection keyword arguments for this host only.
    """

    url: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)


def redacted_url(url: str) -> str:
    """``url`` without user name or password (safe to log)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    path = parts.path if parts.path not in ("", "/") else "/0"
    return f"{parts.scheme}://{host}{port}{path}"


def _url_for(entry: object, position: int) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, (tuple, list)):
        if len(entry) != 2:
            raise ValueError(
                f"hosts[{position}] = {entry!r}: a host tuple is (host, port)"
            )
        host, port = entry
        if not isinstance(host, str) or not host:
            raise ValueError(f"hosts[{position}] = {entry!r}: the host must be a non-empty str")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"hosts[{position}] = {entry!r}: the port must be an int 1-65535")
        bracketed = f"[{host}]" if ":" in host else host
        return f"redis://{bracketed}:{port}/0", {}
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping):
        # channels_redis style: {"address": url-or-tuple, **connection kwargs}
        options = dict(entry)
        if "address" not in options:
            raise ValueError(f"hosts[{position}] is a dict without an 'address' key: {entry!r}")
        url, _ = _url_for(options.pop("address"), position)
        return url, options
    raise ValueError(
        f"hosts[{position}] = {entry!r}: use a (host, port) tuple or a "
        "redis:// / rediss:// / unix:// URL"
    )


def parse_hosts(hosts: object) -> list[HostSpec]:
    """Normalise the ``hosts`` setting into one :class:`HostSpec` per shard.

    Accepts ``(host, port)`` tuples, URLs (``redis://[[user]:password@]host[:port][/db]``,
    ``rediss://`` for TLS, ``unix:///path/to/socket?db=0``) and channels_redis-style dicts
    ``{"address": ..., **options}``.

    Raises:
        ValueError: a bare string instead of a list, an empty list, an unknown URL scheme,
            a malformed entry or the same server listed twice.
    """
    if hosts is None:
        hosts = DEFAULT_HOSTS
    if isinstance(hosts, (str, bytes)):
        raise ValueError(
            f"hosts must be a list of (host, port) tuples or URLs, not a single string; "
            f"write hosts=[{hosts!r}]"
        )
    try:
        entries = list(hosts)  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(
            f"hosts must be a list of (host, port) tuples or URLs, not {type(hosts).__name__}"
        ) from None
    if not entries:
        raise ValueError("hosts is empty; list at least one Redis server")
    specs: list[HostSpec] = []
    for position, entry in enumerate(entries):
        url, options = _url_for(entry, position)
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise ValueError(
                f"hosts[{position}] = {redacted_url(url)!r}: the URL scheme must be one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}"
            )
        try:
            parse_url(url)
        except ValueError as exc:
            raise ValueError(f"hosts[{position}] = {redacted_url(url)!r}: {exc}") from None
        specs.append(HostSpec(url=url, label=redacted_url(url), options=options))
    labels = [spec.label for spec in specs]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"hosts lists the same server more than once: {duplicates}")
    return specs


def validate_prefix(name: str, value: object) -> str:
    """Check a key prefix: a non-empty str (an empty one would let ``flush`` delete every key).

    Raises:
        TypeError: not a str.
        ValueError: empty, or contains whitespace.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(
            f"{name} must not be empty: flush() deletes every key that starts with it"
        )
    if re.search(r"\s", value):
        raise ValueError(f"{name} must not contain whitespace: {value!r}")
    return value


def parse_redis_version(text: str) -> tuple[int, ...]:
    """``"7.0.15"`` → ``(7, 0, 15)``; non-numeric suffixes (``"7.2.4-rc1"``) are ignored.

    Raises:
        ValueError: ``text`` does not start with a dotted version number.
    """
    match = re.match(r"\s*(\d+(?:\.\d+)*)", text)
    if match is None:
        raise ValueError(f"not a version number: {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def check_redis_version(text: str | None, label: str) -> tuple[int, ...]:
    """Return the parsed version of the server at ``label`` or raise if it is too old.

    Raises:
        UnsupportedRedis: the version is below :data:`MIN_REDIS_VERSION` or missing.
    """
    needed = ".".join(map(str, MIN_REDIS_VERSION))
    if not text:
        raise UnsupportedRedis(
            f"The server at {label} did not report a redis_version; this layer needs "
            f"Redis >= {needed}"
        )
    try:
        version = parse_redis_version(text)
    except ValueError:
        raise UnsupportedRedis(
            f"The server at {label} reports redis_version {text!r}, which is not a version "
            f"this layer understands; it needs Redis >= {needed}"
        ) from None
    if version < MIN_REDIS_VERSION:
        raise UnsupportedRedis(
            f"The server at {label} runs Redis {text}; this layer needs Redis >= {needed} "
            "(for BLMPOP). Upgrade the server."
        )
    return version
