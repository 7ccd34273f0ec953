"""The chat's Channels 1.x consumers.

The flow is the one from the Channels 1.x tutorial: the WebSocket consumers only validate and
hand messages to the ``chat-messages`` channel, whose consumer saves them with the ORM and
broadcasts them to the room's Group.  ``enforce_ordering(slight=True)`` makes sure a socket's
connect consumer (which stores the room and name in the channel session) has run before its
receive and disconnect consumers.
"""

from __future__ import annotations

import hashlib
import json
import logging

from channels_classic import Channel, Group
from channels_classic.auth import channel_session_user, channel_session_user_from_http
from channels_classic.sessions import enforce_ordering

from .models import MAX_MESSAGE_LENGTH, ChatMessage

logger = logging.getLogger(__name__)


def room_group(room: str) -> str:
    """Group name of a room (room names are URL slugs, valid in group names)."""
    return f"chat-{room}"


def display_name(message) -> str:
    """The user's name, or a stable guest name for anonymous visitors."""
    user = getattr(message, "user", None)
    if user is not None and user.is_authenticated:
        return user.get_username()
    digest = hashlib.sha1(message.reply_channel.name.encode()).hexdigest()
    return f"guest-{digest[:4]}"


def send_json(channel, payload: dict) -> None:
    channel.send({"text": json.dumps(payload)})


@enforce_ordering(slight=True)
@channel_session_user_from_http
def ws_connect(message, room):
    name = display_name(message)
    message.channel_session["room"] = room
    message.channel_session["name"] = name
    message.reply_channel.send({"accept": True})
    for item in ChatMessage.objects.recent(room):
        send_json(message.reply_channel, item.as_frame(history=True))
    Group(room_group(room)).add(message.reply_channel)


@enforce_ordering(slight=True)
@channel_session_user
def ws_receive(message, room):
    text = parse_chat_frame(message.content.get("text"))
    if text is None:
        send_json(message.reply_channel, {
            "error": 'Send JSON like {"message": "hello"} '
            f"(at most {MAX_MESSAGE_LENGTH} characters).",
        })
        return
    Channel("chat-messages").send({
        "room": room,
        "message": text,
        "user": message.channel_session.get("name") or display_name(message),
    })


@enforce_ordering(slight=True)
@channel_session_user
def ws_disconnect(message, room):
    Group(room_group(room)).discard(message.reply_channel)


def msg_consumer(message):
    """Save a chat message and broadcast it to its room (the ``chat-messages`` channel)."""
    room = message.content["room"]
    item = ChatMessage.objects.create(
        room=room, username=message.content["user"], message=message.content["message"]
    )
    Group(room_group(room)).send({"text": json.dumps(item.as_frame())})


def parse_chat_frame(text) -> str | None:
    """Return the chat text of a client frame, or None if the frame is not acceptable."""
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    body = data["message"].strip()
    if not body or len(body) > MAX_MESSAGE_LENGTH:
        return None
    return body
