"""Seed 000, "Groups", routing.py — verbatim but for the import rename and module path."""
# ruff: noqa

from channels_classic.routing import route
from tests.seedapp.s000_groups.consumers import ws_add, ws_message, ws_disconnect

channel_routing = [
    route("websocket.connect", ws_add),
    route("websocket.receive", ws_message),
    route("websocket.disconnect", ws_disconnect),
]
