"""Settings of the Channels 4 benchmark project (served by ``daphne``)."""

import os

from benchmarks.compare.settings_common import *  # noqa: F403
from benchmarks.compare.settings_common import INSTALLED_APPS, REDIS_URL

#: ``--theirs-max-connections``: the redis-py installed with it (8.x) caps an asyncio
#: connection pool at 100 connections and raises ``MaxConnectionsError`` beyond;
#: channels_redis keeps that default.
#: Unset (0) keeps it, so the comparison is against what ``pip install`` gives today.
_MAX_CONNECTIONS = int(os.environ.get("BENCH_THEIRS_MAX_CONNECTIONS") or 0)

INSTALLED_APPS = [*INSTALLED_APPS, "channels"]
ASGI_APPLICATION = "benchmarks.compare.theirs.asgi.application"
CHANNEL_LAYERS = {
    "default": {
        # channels_redis's defaults apart from the host.
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "max_connections": _MAX_CONNECTIONS}
                             if _MAX_CONNECTIONS else REDIS_URL]},
    }
}
