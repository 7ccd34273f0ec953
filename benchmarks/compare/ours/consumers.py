"""Channels 1.x style consumers for the raw HTTP, echo and chat workloads."""

from __future__ import annotations

from channels_classic import Group
from channels_classic.message import Message

_HELLO = {
    "status": 200,
    "headers": [[b"content-type", b"text/plain"]],
    "content": b"Hello, world!",
}


def http_raw(message: Message) -> None:
    """Answer ``http.request`` directly, without Django's request/response machinery."""
    message.reply_channel.send(_HELLO)


def ws_echo(message: Message) -> None:
    """Send a WebSocket text frame back to its sender."""
    message.reply_channel.send({"text": message["text"]})


def _room(room: str) -> Group:
    return Group(f"room-{room}")


def chat_connect(message: Message, room: str) -> None:
    """Join the room's group, then accept (the accept goes out when the consumer returns)."""
    _room(room).add(message.reply_channel)
    message.reply_channel.send({"accept": True})


def chat_receive(message: Message, room: str) -> None:
    """Broadcast a frame to everyone in the room, the sender included."""
    _room(room).send({"text": message["text"]})


def chat_disconnect(message: Message, room: str) -> None:
    """Leave the room."""
    _room(room).discard(message.reply_channel)
