"""Class-based consumers: ``BaseConsumer`` and the WebSocket consumers."""

from .base import BaseConsumer

__all__ = ["BaseConsumer"]
