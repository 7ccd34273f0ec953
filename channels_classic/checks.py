"""Django system checks for channel-layer and session configuration.

Each problem has a stable id (``channels_classic.E001``...) and a hint saying what to change.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .asgi import UNSUPPORTED_BACKENDS, resolve_backend_path

__all__ = ["check_channel_layers", "check_session_engine"]

_SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


@register(Tags.compatibility)
def check_channel_layers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate every entry of ``CHANNEL_LAYERS``."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if layers is None:
        return []
    if not isinstance(layers, dict):
        return [
            Error(
                "CHANNEL_LAYERS must be a dict of {alias: {BACKEND, CONFIG, ROUTING}}.",
                hint='e.g. CHANNEL_LAYERS = {"default": {"BACKEND": '
                '"channels_classic.layers.inmemory.InMemoryChannelLayer", '
                '"ROUTING": "myproject.routing.channel_routing"}}',
                id="channels_classic.E005",
            )
        ]
    errors: list[CheckMessage] = []
    for alias, config in layers.items():
        errors.extend(_check_alias(str(alias), config))
    return errors


def _check_alias(alias: str, config: Any) -> list[CheckMessage]:
    where = f"CHANNEL_LAYERS[{alias!r}]"
    if not isinstance(config, dict):
        return [Error(f"{where} must be a dict.", id="channels_classic.E005")]
    errors: list[CheckMessage] = []
    if "ROUTING" not in config:
        errors.append(
            Error(
                f"{where} has no ROUTING.",
                hint='Add "ROUTING": "myproject.routing.channel_routing" (a dotted path to '
                "your list of route()s).",
                id="channels_classic.E001",
            )
        )
    backend = config.get("BACKEND")
    if not backend:
        errors.append(
            Error(
                f"{where} has no BACKEND.",
                hint='Use "channels_classic.layers.redis.RedisChannelLayer" in production or '
                '"channels_classic.layers.inmemory.InMemoryChannelLayer" for runserver.',
                id="channels_classic.E002",
            )
        )
    elif backend in UNSUPPORTED_BACKENDS:
        errors.append(
            Error(
                f"{where} BACKEND {backend!r} is not supported.",
                hint=UNSUPPORTED_BACKENDS[backend].capitalize() + ".",
                id="channels_classic.E002",
            )
        )
    else:
        try:
            import_string(resolve_backend_path(backend))
        except ImportError as exc:
            errors.append(
                Error(
                    f"{where} BACKEND {backend!r} cannot be imported: {exc}",
                    hint="Check the dotted path, or use one of the channels_classic.layers "
                    "backends (legacy asgi_redis/asgiref paths are accepted).",
                    id="channels_classic.E002",
                )
            )
    conf = config.get("CONFIG") or {}
    for key in ("CONFIG", "TEST_CONFIG"):
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            errors.append(
                Error(f"{where}[{key!r}] must be a dict of keyword arguments.",
                      id="channels_classic.E005")
            )
    if isinstance(conf, dict):
        hosts = conf.get("hosts")
        if isinstance(hosts, (str, bytes)):
            errors.append(
                Error(
                    f"{where} CONFIG hosts is a single string ({hosts!r}); it must be a list.",
                    hint=f'Write "hosts": [{hosts!r}] (a list of URLs or (host, port) tuples).',
                    id="channels_classic.E003",
                )
            )
    return errors


@register(Tags.compatibility)
def check_session_engine(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Channel sessions need a session store the worker can write to."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if not layers:
        return []
    channel_engine = getattr(settings, "CHANNEL_SESSION_ENGINE", None)
    if channel_engine == _SIGNED_COOKIES:
        return [
            Error(
                "CHANNEL_SESSION_ENGINE is the signed-cookies engine, which cannot store "
                "channel sessions (only an HTTP response can set a cookie).",
                hint="Use a server-side engine, e.g. "
                "django.contrib.sessions.backends.cache or .db.",
                id="channels_classic.E004",
            )
        ]
    if channel_engine is None and getattr(settings, "SESSION_ENGINE", "") == _SIGNED_COOKIES:
        return [
            Warning(
                "SESSION_ENGINE is the signed-cookies engine: @channel_session and "
                "@enforce_ordering cannot store data with it.",
                hint="Set CHANNEL_SESSION_ENGINE to a server-side engine such as "
                "django.contrib.sessions.backends.cache (HTTP sessions may keep signed "
                "cookies; http_session still reads them).",
                id="channels_classic.W004",
            )
        ]
    return []
