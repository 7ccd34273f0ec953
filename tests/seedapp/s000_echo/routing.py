"""Seed 000, echo routing.py — verbatim but for the import rename and the module path
(``myapp.consumers``)."""
# ruff: noqa

from channels_classic.routing import route
from tests.seedapp.s000_echo.consumers import ws_message

channel_routing = [
    route("websocket.receive", ws_message),
]
