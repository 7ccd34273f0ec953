"""Routing for the first "Groups" step (not part of the seed): the two channels its comments
name."""

from .consumers import ws_add, ws_disconnect

channel_routing = {
    "websocket.connect": ws_add,
    "websocket.disconnect": ws_disconnect,
}
