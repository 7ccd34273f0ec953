"""Seed 001, "Groups" first step, consumers.py — verbatim but for the import rename."""
# ruff: noqa

# In consumers.py
from channels_classic import Group
# Connected to websocket.connect
def ws_add(message):
    Group("chat").add(message.reply_channel)
# Connected to websocket.disconnect
def ws_disconnect(message):
    Group("chat").discard(message.reply_channel)
