"""Channels 4 consumers for the raw HTTP, echo and chat workloads."""

from __future__ import annotations

from typing import Any

from channels.generic.http import AsyncHttpConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"13")]


class RawHttp(AsyncHttpConsumer):
    """Answer the request directly, without Django's request/response machinery.

    Content-Length is given so Daphne does not switch to chunked encoding: the interface
    server of channels_classic sends it for a one-message response, and the two answers
    should be the same bytes on the wire (give or take the date and server headers).
    """

    async def handle(self, body: bytes) -> None:
        await self.send_response(200, b"Hello, world!", headers=_HEADERS)


class Echo(AsyncWebsocketConsumer):
    """Send a WebSocket text frame back to its sender."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data)


class Chat(AsyncWebsocketConsumer):
    """Join the room's group on connect; broadcast every frame to the room."""

    async def connect(self) -> None:
        self.group = "room-" + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(self.group, {"type": "chat.message", "text": text_data})

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)
