"""Routing for the fixed "Authentication" consumers (not part of the seed)."""

channel_routing = {
    "websocket.connect": "tests.seedapp.s001_auth_fixed.consumers.ws_add",
    "websocket.receive": "tests.seedapp.s001_auth_fixed.consumers.ws_message",
    "websocket.disconnect": "tests.seedapp.s001_auth_fixed.consumers.ws_disconnect",
}
