"""``Channel`` and ``Group``: the 1.x handles for sending messages.

Inside a consumer, sends are buffered until the consumer returns (see
:mod:`channels_classic.message`); ``immediately=True`` or a send from outside any consumer goes
to the layer at once and raises the layer's errors (``ChannelFull``...) to the caller.
"""

from __future__ import annotations

from typing import Any

from . import DEFAULT_CHANNEL_LAYER
from .exceptions import InvalidMessage
from .message import buffer_send, send_now_or_buffer

__all__ = ["Channel", "Group"]


def _resolve_layer(alias: str, channel_layer: Any) -> Any:
    if channel_layer is not None:
        return channel_layer
    from .asgi import channel_layers

    return channel_layers[alias]


def _check_content(content: object, what: str) -> None:
    if not isinstance(content, dict):
        raise InvalidMessage(
            f"{what} only accepts a dict as the message, not {type(content).__name__}"
        )


def _name(value: object, what: str) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii")
    if isinstance(value, str):
        return value
    raise TypeError(f"{what} name must be str, not {type(value).__name__}: {value!r}")


class Channel:
    """A named channel on a layer (``alias`` from ``CHANNEL_LAYERS``, or ``channel_layer``)."""

    def __init__(
        self, name: str | bytes, alias: str = DEFAULT_CHANNEL_LAYER, channel_layer: Any = None
    ) -> None:
        self.name = _name(name, "Channel")
        self.channel_layer = _resolve_layer(alias, channel_layer)

    def send(self, content: dict[str, Any], immediately: bool = False) -> None:
        """Send ``content``; buffered until the running consumer returns unless
        ``immediately`` is true or no consumer is running.

        Raises:
            InvalidMessage: ``content`` is not a dict (a ``TypeError`` and a ``ValueError``).
        """
        _check_content(content, "Channel.send()")
        send_now_or_buffer(self, content, immediately)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Channel {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Channel):
            return self.name == other.name and self.channel_layer is other.channel_layer
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


class Group:
    """A named set of channels; sending to it sends to every member."""

    def __init__(
        self, name: str | bytes, alias: str = DEFAULT_CHANNEL_LAYER, channel_layer: Any = None
    ) -> None:
        self.name = _name(name, "Group")
        self.channel_layer = _resolve_layer(alias, channel_layer)

    def add(self, channel: Channel | str) -> None:
        """Add a channel (a :class:`Channel` or its name) to the group, at once."""
        name = channel.name if isinstance(channel, Channel) else _name(channel, "Channel")
        self.channel_layer.group_add(self.name, name)

    def discard(self, channel: Channel | str) -> None:
        """Remove a channel from the group, at once; no error if it is not a member."""
        name = channel.name if isinstance(channel, Channel) else _name(channel, "Channel")
        self.channel_layer.group_discard(self.name, name)

    def send(self, content: dict[str, Any], immediately: bool = False) -> None:
        """Send ``content`` to every member (buffered inside a consumer, as
        :meth:`Channel.send`).  Members at capacity are skipped; this never raises
        ``ChannelFull``.

        Raises:
            InvalidMessage: ``content`` is not a dict (a ``TypeError`` and a ``ValueError``).
        """
        _check_content(content, "Group.send()")
        if immediately or not buffer_send(self.channel_layer, self.name, content, True):
            self.channel_layer.send_group(self.name, content)

    def __repr__(self) -> str:
        return f"<Group {self.name!r}>"
