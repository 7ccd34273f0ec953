"""``BaseConsumer``: a class-based consumer instantiated for every message.

Routing calls the class with the message, exactly like a function consumer; the instance picks
the method named in :attr:`BaseConsumer.method_mapping` for the message's channel and runs it::

    class Pinger(BaseConsumer):
        method_mapping = {"ping": "on_ping"}

        def on_ping(self, message, **kwargs):
            message.reply_channel.send({"pong": True})

    channel_routing = [Pinger.as_route(path=r"^/ping/")]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from ..auth import channel_session_user
from ..message import Message
from ..routing import RouteClass, route_class
from ..sessions import channel_session

__all__ = ["BaseConsumer"]


class BaseConsumer:
    """Dispatches one message to the method mapped to its channel.

    Attributes:
        method_mapping: ``{channel name: method name}``; its keys are the channels the class
            is routed on (:meth:`channel_names`).
        channel_session: wrap handlers in ``@channel_session``.
        channel_session_user: wrap handlers in ``@channel_session_user`` (implies the above).
        message: the message being handled.
        kwargs: the keyword arguments routing passed (named groups of the filters).
    """

    method_mapping: ClassVar[dict[str, str]] = {}
    channel_session: ClassVar[bool] = False
    channel_session_user: ClassVar[bool] = False

    def __init__(self, message: Message, **kwargs: Any) -> None:
        self.message = message
        self.kwargs = kwargs
        self.dispatch(message, **kwargs)

    @classmethod
    def channel_names(cls) -> set[str]:
        """The channels this consumer handles (the keys of ``method_mapping``)."""
        return set(cls.method_mapping)

    @classmethod
    def as_route(cls, attrs: dict[str, Any] | None = None, **filters: Any) -> RouteClass:
        """A route for this class; ``attrs`` makes a subclass with those class attributes.

        Raises:
            TypeError: ``attrs`` is not a dict.
        """
        consumer: type[BaseConsumer] = cls
        if attrs is not None:
            if not isinstance(attrs, dict):
                raise TypeError(f"as_route(attrs=...) takes a dict, not {type(attrs).__name__}")
            consumer = type(cls.__name__, (cls,), dict(attrs))
        return route_class(consumer, **filters)

    def get_handler(self, message: Message, **kwargs: Any) -> Callable[..., Any]:
        """The bound method for the message's channel, wrapped in the session decorators.

        Raises:
            ValueError: no method is mapped to the channel.
        """
        name = self.method_mapping.get(message.channel.name)
        if name is None:
            raise ValueError(
                f"{type(self).__name__} has no method for channel {message.channel.name!r}; "
                f"it handles {sorted(self.method_mapping)}"
            )
        handler: Callable[..., Any] = getattr(self, name)
        if self.channel_session_user:
            return channel_session_user(handler)
        if self.channel_session:
            return channel_session(handler)
        return handler

    def dispatch(self, message: Message, **kwargs: Any) -> Any:
        """Run the handler for ``message``."""
        return self.get_handler(message, **kwargs)(message, **kwargs)
