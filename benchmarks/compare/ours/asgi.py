"""The layer the interface server serves: ``python -m interface_server
benchmarks.compare.ours.asgi:channel_layer``."""

import os

from channels_classic.asgi import get_channel_layer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.compare.ours.settings")
channel_layer = get_channel_layer()
