"""Routing: raw HTTP on ``/raw``, echo on ``/ws/echo/``, chat on ``/chat/<room>/``.

Everything else on ``http.request`` falls through to the default route (Django's views through
``ViewConsumer``), which is where ``GET /hello`` goes.
"""

from channels_classic.routing import route

from . import consumers

_CHAT = r"^/chat/(?P<room>[^/]+)/$"

channel_routing = [
    route("http.request", consumers.http_raw, path=r"^/raw$"),
    route("websocket.receive", consumers.ws_echo, path=r"^/ws/echo/$"),
    route("websocket.connect", consumers.chat_connect, path=_CHAT),
    route("websocket.receive", consumers.chat_receive, path=_CHAT),
    route("websocket.disconnect", consumers.chat_disconnect, path=_CHAT),
]
