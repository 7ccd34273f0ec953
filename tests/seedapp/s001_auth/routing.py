"""Routing for seed 001's "Authentication" consumers (not part of the seed)."""

channel_routing = {
    "websocket.connect": "tests.seedapp.s001_auth.consumers.ws_add",
    "websocket.receive": "tests.seedapp.s001_auth.consumers.ws_message",
    "websocket.disconnect": "tests.seedapp.s001_auth.consumers.ws_disconnect",
}
