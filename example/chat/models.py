"""Chat messages, persisted by the ``chat-messages`` consumer."""

from __future__ import annotations

from typing import Any

from django.db import models

#: How many earlier messages a client gets when it joins a room.
HISTORY_LENGTH = 50
#: Longest message accepted from a client, in characters.
MAX_MESSAGE_LENGTH = 2000


class ChatMessageQuerySet(models.QuerySet["ChatMessage"]):
    def recent(self, room: str, limit: int = HISTORY_LENGTH) -> list[ChatMessage]:
        """The last ``limit`` messages of ``room``, oldest first."""
        latest = self.filter(room=room).order_by("-created", "-id")[:limit]
        return list(reversed(latest))

    def active_rooms(self, limit: int = 10) -> list[str]:
        """Rooms with the most recent activity."""
        rooms: list[str] = []
        for room in self.order_by("-created").values_list("room", flat=True)[:500]:
            if room not in rooms:
                rooms.append(room)
            if len(rooms) >= limit:
                break
        return rooms


class ChatMessage(models.Model):
    room = models.CharField(max_length=100, db_index=True)
    username = models.CharField(max_length=150)
    message = models.TextField()
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ChatMessageQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"[{self.room}] {self.username}: {self.message[:40]}"

    def as_frame(self, history: bool = False) -> dict[str, Any]:
        """The JSON object sent to browsers; ``message`` is the key the seeds' page reads."""
        return {
            "message": self.message,
            "user": self.username,
            "time": self.created.isoformat(),
            "history": history,
        }
