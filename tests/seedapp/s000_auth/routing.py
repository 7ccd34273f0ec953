"""Routing for seed 000's "Authentication" consumers.

Not part of the seed (it shows no routing for this step); the same three routes as the
earlier steps.
"""

from channels_classic.routing import route

from .consumers import ws_add, ws_disconnect, ws_message

channel_routing = [
    route("websocket.connect", ws_add),
    route("websocket.receive", ws_message),
    route("websocket.disconnect", ws_disconnect),
]
