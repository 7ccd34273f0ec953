"""``from .models import ChatMessage`` of the seed: the app's model."""

from tests.seedapp.models import ChatMessage

__all__ = ["ChatMessage"]
