"""Routing for the "Models" consumers (not part of the seed, which names the channels in
comments: ``chat-messages`` and the three WebSocket channels)."""

from channels_classic.routing import route

from .consumers import msg_consumer, ws_connect, ws_disconnect, ws_message

channel_routing = [
    route("chat-messages", msg_consumer),
    route("websocket.connect", ws_connect),
    route("websocket.receive", ws_message),
    route("websocket.disconnect", ws_disconnect),
]
