"""The tutorials' ``ChatMessage`` model: "a ChatMessage model with ``message`` and ``room``
fields"."""

from django.db import models


class ChatMessage(models.Model):
    """One chat line saved by the ``chat-messages`` consumer."""

    room = models.CharField(max_length=255)
    message = models.TextField()

    def __str__(self) -> str:
        return f"{self.room}: {self.message}"
