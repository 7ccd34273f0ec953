"""Routing for seed 001's "Persisting Data" consumers (not part of the seed)."""

from .consumers import ws_connect, ws_disconnect, ws_message

channel_routing = {
    "websocket.connect": ws_connect,
    "websocket.receive": ws_message,
    "websocket.disconnect": ws_disconnect,
}
