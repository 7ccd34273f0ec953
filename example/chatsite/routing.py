"""Channel routing for the site: the chat's WebSockets and its message-processing channel."""

from chat.consumers import msg_consumer
from chat.routing import websocket_routing

from channels_classic.routing import include, route

channel_routing = [
    # The seeds' WebSocket URL: /ws/chat/<room>/
    include(websocket_routing, path=r"^/ws/chat"),
    route("chat-messages", msg_consumer),
]
