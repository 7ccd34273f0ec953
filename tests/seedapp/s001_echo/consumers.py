"""Seed 001, echo consumers.py — verbatim but for the import rename."""
# ruff: noqa

# In consumers.py
from channels_classic import Group
def ws_message(message):
    # ASGI WebSocket packet-received and send-packet message types
    # both have a "text" key for their textual data.
    message.reply_channel.send({
        "text": message.content['text'],
    })
