"""Entry point for the interface server: ``interface-server chatsite.asgi:channel_layer``."""

import os

from channels_classic.asgi import get_channel_layer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
channel_layer = get_channel_layer()
