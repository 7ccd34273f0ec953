"""Routing for seed 001's "Enforcing Ordering" consumers (not part of the seed)."""

from .consumers import ws_add, ws_disconnect, ws_message

channel_routing = {
    "websocket.connect": ws_add,
    "websocket.receive": ws_message,
    "websocket.disconnect": ws_disconnect,
}
