"""``ChannelLiveServerTestCase`` as a project uses it: run by ``manage.py test`` (the Django
test runner), against Redis, with a file-backed SQLite test database.

Not collected by pytest (the file name does not start with ``test_``);
``test_liveserver.py`` runs it in a child process.
"""

import json
import urllib.request

import websocket
from django.test import override_settings

from channels_classic.asgi import channel_layers
from channels_classic.test import ChannelLiveServerTestCase
from tests.bindingapp.models import IntegerValue

TIMEOUT = 10


def fetch(url):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.status, response.headers.get("Content-Type"), response.read()


@override_settings(LIVE_GREETING="overridden on the test class")
class LiveServerTests(ChannelLiveServerTestCase):
    def connect(self, path):
        socket = websocket.create_connection(self.live_server_ws_url + path, timeout=TIMEOUT)
        self.addCleanup(socket.close)
        return socket

    def test_urls(self):
        self.assertRegex(self.live_server_url, r"^http://localhost:\d+$")
        self.assertEqual(self.live_server_ws_url,
                         self.live_server_url.replace("http://", "ws://"))

    def test_http_request_reaches_a_view_with_the_class_settings(self):
        status, _, body = fetch(self.live_server_url + "/hello/")
        self.assertEqual((status, body), (200, b"overridden on the test class"))

    def test_static_files_are_served(self):
        status, content_type, body = fetch(
            self.live_server_url + "/static/channels/js/websocketbridge.js")
        self.assertEqual(status, 200)
        self.assertIn("javascript", content_type)
        self.assertIn(b"WebSocketBridge.prototype.demultiplex", body)

    def test_websocket_round_trip(self):
        socket = self.connect("/echo/")
        socket.send(json.dumps({"hello": "live server"}))
        self.assertEqual(json.loads(socket.recv()), {"echo": {"hello": "live server"}})

    def test_the_layer_is_the_test_config_one(self):
        layer = channel_layers["default"]
        self.assertEqual(layer.channel_layer.prefix, "livetests:")

    def test_layers_are_flushed_before_each_test_1_fill(self):
        channel_layers["default"].group_add("leftover", "somebody.channel")
        self.assertEqual(channel_layers["default"].group_channels("leftover"),
                         ["somebody.channel"])

    def test_layers_are_flushed_before_each_test_2_empty(self):
        self.assertEqual(channel_layers["default"].group_channels("leftover"), [])

    def test_data_binding_both_ways(self):
        socket = self.connect("/binding/")  # joins intval-updates on connect
        # A save in the test process reaches the socket through Redis and the server.
        made_here = IntegerValue.objects.create(name="from-test", value=1)
        self.assertEqual(json.loads(socket.recv()), {
            "stream": "intval",
            "payload": {"action": "create", "pk": made_here.pk,
                        "data": {"name": "from-test", "value": 1},
                        "model": "bindingapp.integervalue"},
        })
        # A frame from the socket: the worker writes the test database, and broadcasts.
        socket.send(json.dumps({"stream": "intval", "payload": {
            "action": "create", "data": {"name": "from-socket", "value": 2}}}))
        frame = json.loads(socket.recv())
        self.assertEqual(frame["payload"]["data"], {"name": "from-socket", "value": 2})
        self.assertEqual(IntegerValue.objects.get(name="from-socket").pk, frame["payload"]["pk"])
