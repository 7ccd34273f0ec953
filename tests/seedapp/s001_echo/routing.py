"""Seed 001, echo routing.py — verbatim but for the module path (``myproject.myapp``)."""
# ruff: noqa

# In routing.py
from tests.seedapp.s001_echo.consumers import ws_message
channel_routing = {
    "websocket.receive": ws_message,
}
