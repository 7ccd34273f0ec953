"""``CHANNEL_LAYERS`` integration: the layer manager, its wrapper and ``get_channel_layer``.

``channel_layers[alias]`` builds the layer named in settings on first use and returns a
:class:`ChannelLayerWrapper` that adds the alias and its :class:`~channels_classic.routing.Router`
to the raw layer.  Settings may keep Channels 1.x ``BACKEND`` strings
(``asgi_redis.RedisChannelLayer``, ``asgiref.inmemory.ChannelLayer``...); they resolve to this
package's layers.

An interface server is pointed at a module attribute holding a raw layer, conventionally::

    # myproject/asgi.py
    import os
    from channels_classic.asgi import get_channel_layer

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
    channel_layer = get_channel_layer()
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from . import DEFAULT_CHANNEL_LAYER
from .layers.base import BaseChannelLayer, Delivery
from .routing import Router

__all__ = [
    "LEGACY_BACKENDS",
    "ChannelLayerManager",
    "ChannelLayerWrapper",
    "InvalidChannelLayerError",
    "channel_layers",
    "get_channel_layer",
    "resolve_backend_path",
]

_INMEMORY = "channels_classic.layers.inmemory.InMemoryChannelLayer"
_REDIS = "channels_classic.layers.redis.RedisChannelLayer"
_SENTINEL = "channels_classic.layers.redis.RedisSentinelChannelLayer"

#: Channels 1.x backend paths and what they mean here.
LEGACY_BACKENDS = {
    "asgiref.inmemory.ChannelLayer": _INMEMORY,
    "asgi_redis.RedisChannelLayer": _REDIS,
    "asgi_redis.core.RedisChannelLayer": _REDIS,
    # The IPC half of the "local" layer is not carried over: Redis on localhost does its job.
    "asgi_redis.RedisLocalChannelLayer": _REDIS,
    "asgi_redis.local.RedisLocalChannelLayer": _REDIS,
    "asgi_redis.RedisSentinelChannelLayer": _SENTINEL,
    "asgi_redis.sentinel.RedisSentinelChannelLayer": _SENTINEL,
    "channels_classic.layers.InMemoryChannelLayer": _INMEMORY,
    "channels_classic.layers.RedisChannelLayer": _REDIS,
    "channels_classic.layers.RedisSentinelChannelLayer": _SENTINEL,
}

#: Backends of other projects that have no equivalent, with what to use instead.
UNSUPPORTED_BACKENDS = {
    "asgi_ipc.IPCChannelLayer": "use channels_classic.layers.redis.RedisChannelLayer against "
    "a Redis on localhost",
    "asgi_rabbitmq.RabbitmqChannelLayer": "use channels_classic.layers.redis.RedisChannelLayer",
    "asgi_rabbitmq.RabbitmqLocalChannelLayer": "use "
    "channels_classic.layers.redis.RedisChannelLayer",
}


class InvalidChannelLayerError(ImproperlyConfigured):
    """``CHANNEL_LAYERS`` names a layer that cannot be built; the message says what to fix."""


def resolve_backend_path(path: str) -> str:
    """Map a (possibly legacy) ``BACKEND`` string to the dotted path of a layer class."""
    if path in UNSUPPORTED_BACKENDS:
        raise InvalidChannelLayerError(
            f"BACKEND {path!r} is not supported: {UNSUPPORTED_BACKENDS[path]}"
        )
    return LEGACY_BACKENDS.get(path, path)


class ChannelLayerWrapper:
    """A configured layer plus its alias and router, as ``channel_layers[alias]`` returns.

    The ASGI API is forwarded to :attr:`channel_layer` explicitly; anything backend-specific
    is reached through ``wrapper.channel_layer``.
    """

    def __init__(self, channel_layer: BaseChannelLayer, alias: str, routing: Any) -> None:
        self.channel_layer = channel_layer
        self.alias = alias
        self.routing = routing
        self._router: Router | None = None
        self._router_lock = threading.Lock()

    @property
    def router(self) -> Router:
        """The Router for this alias's ``ROUTING``, built on first use."""
        if self._router is None:
            with self._router_lock:
                if self._router is None:
                    self._router = Router(self.routing)
        return self._router

    def local_only(self) -> bool:
        """True if the layer cannot carry messages between processes."""
        return bool(getattr(self.channel_layer, "local_only", False))

    # Exceptions and attributes 1.x code reads off the layer.
    @property
    def ChannelFull(self) -> type[Exception]:  # noqa: N802 - 1.x attribute name
        return self.channel_layer.ChannelFull

    @property
    def MessageTooLarge(self) -> type[Exception]:  # noqa: N802 - 1.x attribute name
        return self.channel_layer.MessageTooLarge

    @property
    def extensions(self) -> list[str]:
        return self.channel_layer.extensions

    @property
    def expiry(self) -> float:
        return self.channel_layer.expiry

    @property
    def group_expiry(self) -> float:
        return self.channel_layer.group_expiry

    def send(self, channel: str, message: dict[str, Any], *, attempts: int = 0) -> None:
        """Forwarded :meth:`BaseChannelLayer.send`."""
        self.channel_layer.send(channel, message, attempts=attempts)

    def send_many(
        self, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[BaseException | None]:
        """Forwarded :meth:`BaseChannelLayer.send_many`."""
        return self.channel_layer.send_many(items)

    def receive(self, channels: Iterable[str], block: bool = False) -> Any:
        """Forwarded :meth:`BaseChannelLayer.receive`."""
        return self.channel_layer.receive(channels, block=block)

    def receive_many(self, channels: Iterable[str], block: bool = False) -> Any:
        """Forwarded deprecated :meth:`BaseChannelLayer.receive_many`."""
        return self.channel_layer.receive_many(channels, block=block)

    def fetch(
        self, channels: Iterable[str], block: bool = False, max_messages: int = 1
    ) -> list[Delivery]:
        """Forwarded :meth:`BaseChannelLayer.fetch`."""
        return self.channel_layer.fetch(channels, block=block, max_messages=max_messages)

    def new_channel(self, pattern: str) -> str:
        """Forwarded :meth:`BaseChannelLayer.new_channel`."""
        return self.channel_layer.new_channel(pattern)

    def group_add(self, group: str, channel: str) -> None:
        """Forwarded :meth:`BaseChannelLayer.group_add`."""
        self.channel_layer.group_add(group, channel)

    def group_discard(self, group: str, channel: str) -> None:
        """Forwarded :meth:`BaseChannelLayer.group_discard`."""
        self.channel_layer.group_discard(group, channel)

    def group_channels(self, group: str) -> list[str]:
        """Forwarded :meth:`BaseChannelLayer.group_channels`."""
        return self.channel_layer.group_channels(group)

    def send_group(self, group: str, message: dict[str, Any]) -> None:
        """Forwarded :meth:`BaseChannelLayer.send_group`."""
        self.channel_layer.send_group(group, message)

    def flush(self) -> None:
        """Forwarded :meth:`BaseChannelLayer.flush`."""
        self.channel_layer.flush()

    def global_statistics(self) -> dict[str, Any]:
        """Forwarded ``global_statistics`` (statistics extension)."""
        return self.channel_layer.global_statistics()  # type: ignore[attr-defined,no-any-return]

    def channel_statistics(self, channel: str) -> dict[str, Any]:
        """Forwarded ``channel_statistics`` (statistics extension)."""
        return self.channel_layer.channel_statistics(channel)  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return f"<ChannelLayerWrapper {self.alias!r} {self.channel_layer!r}>"


class ChannelLayerManager:
    """Builds the layers named in ``CHANNEL_LAYERS`` lazily, one per alias, thread-safely."""

    def __init__(self) -> None:
        self.backends: dict[str, ChannelLayerWrapper] = {}
        self._lock = threading.RLock()

    @property
    def configs(self) -> dict[str, dict[str, Any]]:
        """The ``CHANNEL_LAYERS`` setting (empty if unset)."""
        return dict(getattr(settings, "CHANNEL_LAYERS", None) or {})

    def make_backend(self, name: str) -> ChannelLayerWrapper:
        """Build the layer for alias ``name`` from ``CONFIG``."""
        return self._make(name, "CONFIG")

    def make_test_backend(self, name: str) -> ChannelLayerWrapper:
        """Build the layer for alias ``name`` from ``TEST_CONFIG`` (falling back to CONFIG)."""
        config = self.configs.get(name, {})
        return self._make(name, "TEST_CONFIG" if "TEST_CONFIG" in config else "CONFIG")

    def _make(self, name: str, config_key: str) -> ChannelLayerWrapper:
        configs = self.configs
        if name not in configs:
            known = ", ".join(sorted(configs)) or "none"
            raise InvalidChannelLayerError(
                f"No channel layer named {name!r} in CHANNEL_LAYERS (configured: {known})"
            )
        config = configs[name]
        if "BACKEND" not in config:
            raise InvalidChannelLayerError(f"CHANNEL_LAYERS[{name!r}] has no BACKEND")
        if "ROUTING" not in config:
            raise InvalidChannelLayerError(
                f"CHANNEL_LAYERS[{name!r}] has no ROUTING; point it at your routing list, "
                "e.g. \"ROUTING\": \"myproject.routing.channel_routing\""
            )
        layer = build_layer(config["BACKEND"], config.get(config_key) or {}, name)
        return ChannelLayerWrapper(layer, name, config["ROUTING"])

    def __getitem__(self, name: str) -> ChannelLayerWrapper:
        try:
            return self.backends[name]
        except KeyError:
            with self._lock:
                if name not in self.backends:
                    self.backends[name] = self.make_backend(name)
                return self.backends[name]

    def __contains__(self, name: object) -> bool:
        return name in self.configs

    def set(self, name: str, layer: ChannelLayerWrapper | None) -> ChannelLayerWrapper | None:
        """Replace the layer for ``name`` (tests use it); returns the previous one."""
        with self._lock:
            old = self.backends.get(name)
            if layer is None:
                self.backends.pop(name, None)
            else:
                self.backends[name] = layer
            return old


def build_layer(backend: str, config: dict[str, Any], alias: str) -> BaseChannelLayer:
    """Instantiate a layer class from its (possibly legacy) path and keyword arguments."""
    path = resolve_backend_path(backend)
    try:
        layer_class = import_string(path)
    except ImportError as exc:
        raise InvalidChannelLayerError(
            f"CHANNEL_LAYERS[{alias!r}] BACKEND {backend!r} cannot be imported: {exc}"
        ) from exc
    if not isinstance(config, dict):
        raise InvalidChannelLayerError(
            f"CHANNEL_LAYERS[{alias!r}] CONFIG must be a dict of keyword arguments"
        )
    try:
        return layer_class(**config)  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise InvalidChannelLayerError(
            f"CHANNEL_LAYERS[{alias!r}] CONFIG is not valid for {path}: {exc}"
        ) from exc


#: The process-wide manager, as in Channels 1.x.
channel_layers = ChannelLayerManager()


def get_channel_layer(alias: str = DEFAULT_CHANNEL_LAYER) -> BaseChannelLayer:
    """Set Django up and return the *raw* layer for ``alias`` (for an interface server)."""
    import django

    django.setup(set_prefix=False)
    return channel_layers[alias].channel_layer
