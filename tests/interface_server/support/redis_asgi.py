"""ASGI module for the Redis tests: a Redis layer (the app runs in its own process, see
:mod:`.app_process`).  Environment: ``IS_TEST_REDIS_URL``, ``IS_TEST_CAPACITY``."""

from __future__ import annotations

import os

from channels_classic.layers.redis import RedisChannelLayer

channel_layer = RedisChannelLayer(
    hosts=[os.environ["IS_TEST_REDIS_URL"]],
    capacity=int(os.environ.get("IS_TEST_CAPACITY", "100")),
    prefix=os.environ.get("IS_TEST_REDIS_PREFIX", "asgi:"),
)
