"""ASGI 1.0 channel layers: the contract, the in-memory layer and the Redis layers.

``ChannelFull`` and ``MessageTooLarge`` are module-level classes; every layer also exposes them
as attributes (``layer.ChannelFull``) for code written against Channels 1.x.
"""

from __future__ import annotations

from typing import Any

from .base import (
    BaseChannelLayer,
    ChannelFull,
    Delivery,
    LayerUnavailable,
    MessageTooLarge,
    new_process_prefix,
)
from .inmemory import InMemoryChannelLayer

__all__ = [
    "BaseChannelLayer",
    "ChannelFull",
    "Delivery",
    "InMemoryChannelLayer",
    "LayerUnavailable",
    "MessageTooLarge",
    "RedisChannelLayer",
    "RedisSentinelChannelLayer",
    "new_process_prefix",
]


def __getattr__(name: str) -> Any:
    # The Redis layers import redis-py; keep that cost off processes that never use them.
    if name in ("RedisChannelLayer", "RedisSentinelChannelLayer"):
        from . import redis

        return getattr(redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
