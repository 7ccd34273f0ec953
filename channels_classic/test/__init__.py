"""Testing consumers: test cases with in-memory layers, client connections, route overrides.

::

    from channels_classic.test import ChannelTestCase, WSClient, apply_routes

    class ChatTests(ChannelTestCase):
        def test_echo(self):
            client = WSClient()
            client.send_and_consume("websocket.connect", path="/chat/")
            client.send_and_consume("websocket.receive", text="hi", path="/chat/")
            self.assertEqual(client.receive(json=False), "hi")

``ChannelLiveServerTestCase`` runs a real interface server and worker for browser and
socket-level tests (see :mod:`channels_classic.test.liveserver`).
"""

from .base import (
    ChannelTestCase,
    ChannelTestCaseMixin,
    Client,
    TransactionChannelTestCase,
    apply_routes,
    in_memory_layer,
    use_channel_layers,
)
from .http import HttpClient
from .liveserver import ChannelLiveServerTestCase
from .websocket import WSClient

__all__ = [
    "ChannelLiveServerTestCase",
    "ChannelTestCase",
    "ChannelTestCaseMixin",
    "Client",
    "HttpClient",
    "TransactionChannelTestCase",
    "WSClient",
    "apply_routes",
    "in_memory_layer",
    "use_channel_layers",
]
