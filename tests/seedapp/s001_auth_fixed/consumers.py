"""Seed 001, "Authentication", consumers.py — verbatim but for the import rename, with
one added line importing ``channel_session_user_from_http``."""
# ruff: noqa

# In consumers.py
from channels_classic import Channel, Group
from channels_classic.sessions import channel_session
from channels_classic.auth import http_session_user, channel_session_user, transfer_user
from channels_classic.auth import channel_session_user_from_http
# Connected to websocket.connect
@channel_session_user_from_http
def ws_add(message):
    # Copy user from HTTP to channel session
    transfer_user(message.http_session, message.channel_session)
    # Add them to the right group
    Group("chat-%s" % message.user.username[0]).add(message.reply_channel)
# Connected to websocket.receive
@channel_session_user
def ws_message(message):
    Group("chat-%s" % message.user.username[0]).send(message.content)
# Connected to websocket.disconnect
@channel_session_user
def ws_disconnect(message):
    Group("chat-%s" % message.user.username[0]).discard(message.reply_channel)
