"""ASGI module for the real-socket tests: an in-memory layer plus the test app in a thread.

``python -m interface_server tests.interface_server.support.inmemory_asgi:channel_layer``
Environment: ``IS_TEST_CONTROL_FILE`` (where to write the control port), ``IS_TEST_CAPACITY``
(channel capacity, default 100, the spec's default).
"""

from __future__ import annotations

import os

from channels_classic.layers.inmemory import InMemoryChannelLayer

from .app import serve

channel_layer = InMemoryChannelLayer(
    capacity=int(os.environ.get("IS_TEST_CAPACITY", "100")),
    expiry=float(os.environ.get("IS_TEST_EXPIRY", "60")),
)
app = serve(channel_layer, os.environ.get("IS_TEST_CONTROL_FILE"))
