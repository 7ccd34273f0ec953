"""Seed 001, "Models", consumers.py — verbatim but for the import rename."""
# ruff: noqa

# In consumers.py
from channels_classic import Channel
from channels_classic.sessions import channel_session
from .models import ChatMessage
# Connected to chat-messages
def msg_consumer(message):
    # Save to model
    ChatMessage.objects.create(
        room=message.content['room'],
        message=message.content['message'],
    )
    # Broadcast to listening sockets
    Group("chat-%s" % room).send({
        "content": message.content['message'],
    })
# Connected to websocket.connect
@channel_session
def ws_connect(message):
    # Work out room name from path (ignore slashes)
    room = message.content['path'].strip("/")
    # Save room in session and add us to the group
    message.channel_session['room'] = room
    Group("chat-%s" % room).add(message.reply_channel)
# Connected to websocket.receive
@channel_session
def ws_message(message):
    # Stick the message onto the processing queue
    Channel("chat-messages").send({
        "room": channel_session['room'],
        "message": content,
    })
# Connected to websocket.disconnect
@channel_session
def ws_disconnect(message):
    Group("chat-%s" % message.channel_session['room']).discard(message.reply_channel)
