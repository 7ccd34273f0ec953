"""Settings of the channels_classic benchmark project (``python -m django runworker``)."""

from benchmarks.compare.settings_common import *  # noqa: F403
from benchmarks.compare.settings_common import INSTALLED_APPS, REDIS_URL

INSTALLED_APPS = [*INSTALLED_APPS, "channels_classic"]
CHANNEL_LAYERS = {
    "default": {
        # Default settings apart from the host: the scenario checks are about the defaults.
        "BACKEND": "channels_classic.layers.redis.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
        "ROUTING": "benchmarks.compare.ours.routing.channel_routing",
    }
}
