"""WebSocket routes of the chat, relative to /ws/chat (see chatsite/routing.py)."""

from channels_classic.routing import route

from .consumers import ws_connect, ws_disconnect, ws_receive

ROOM_PATH = r"^/(?P<room>[-\w]{1,100})/$"

websocket_routing = [
    route("websocket.connect", ws_connect, path=ROOM_PATH),
    route("websocket.receive", ws_receive, path=ROOM_PATH),
    route("websocket.disconnect", ws_disconnect, path=ROOM_PATH),
]
