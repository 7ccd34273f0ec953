"""Seed 000, "Persisting Data", routing.py — verbatim but for the import rename and module
path."""
# ruff: noqa

from channels_classic.routing import route
from tests.seedapp.s000_persisting.consumers import ws_connect, ws_message, ws_disconnect

channel_routing = [
    route("websocket.connect", ws_connect),
    route("websocket.receive", ws_message),
    route("websocket.disconnect", ws_disconnect),
]
