"""Seed 001, "Groups", routing.py — verbatim but for the module path."""
# ruff: noqa

from tests.seedapp.s001_groups.consumers import ws_add, ws_message, ws_disconnect
channel_routing = {
    "websocket.connect": ws_add,
    "websocket.receive": ws_message,
    "websocket.disconnect": ws_disconnect,
}
