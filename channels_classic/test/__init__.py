"""Testing consumers: test cases with in-memory layers, client connections, route overrides.

::

    from channels_classic.test import ChannelTestCase, WSClient, apply_routes

    class ChatTests(ChannelTestCase):
        def test_echo(self):
            client = WSClient()
            client.send_and_consume("websocket.connect", path="/chat/")
            client.send_and_consume("websocket.receive", text="hi", path="/chat/")
            self.assertEqual(client.receive(json=False), "hi")
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
from .websocket import WSClient

__all__ = [
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
