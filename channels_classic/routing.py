"""Channel routing: ``route``, ``route_class``, ``include`` and the ``Router``.

A routing table is a list of routes and includes (or a ``{channel: consumer}`` dict, or a
dotted path to either).  :meth:`Router.match` walks it in order and returns the first consumer
whose channel and filters match, with the keyword arguments taken from the filters' named
groups.

Filters are regular expressions matched with ``re.match`` (anchored at the start only) against
message keys; a missing key means no match.  ``include(routing, path=r"^/chat")`` strips the
part its filter matched before the inner routes see the message, so inner routes are written
relative to the prefix.  The consumer is always called with the original, unstripped message.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .message import Message

__all__ = [
    "Include",
    "Route",
    "RouteClass",
    "Router",
    "connect_consumer",
    "include",
    "null_consumer",
    "route",
    "route_class",
]

Consumer = Callable[..., Any]
Match = tuple[Consumer, dict[str, Any]]


def import_consumer(path: str, what: str = "consumer") -> Any:
    """Import ``package.module.attr``; raise ImproperlyConfigured saying what failed and why."""
    module_path, _, attr = path.rpartition(".")
    if not module_path:
        raise ImproperlyConfigured(f"Cannot import {what} {path!r}: use a dotted path 'a.b.c'")
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:  # also NameError/SyntaxError in the module: name it at start-up
        raise ImproperlyConfigured(
            f"Cannot import {what} {path!r}: importing module {module_path!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImproperlyConfigured(
            f"Cannot import {what} {path!r}: module {module_path!r} has no attribute {attr!r}"
        ) from None


def _compile_filter(key: str, pattern: str | bytes | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        regex = pattern
    else:
        if isinstance(pattern, bytes):
            pattern = pattern.decode("ascii")
        if not isinstance(pattern, str):
            raise TypeError(
                f"Filter {key!r} must be a regex string, not {type(pattern).__name__}"
            )
        regex = re.compile(pattern)
    if regex.groups != len(regex.groupindex):
        raise ValueError(
            f"Filter {key}={regex.pattern!r} has positional groups; use named groups "
            "(?P<name>...) — their values are passed to the consumer as keyword arguments"
        )
    return regex


def _filter_value(content: Mapping[str, Any], key: str) -> str | None:
    value = content.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # e.g. query_string; byte values 0-255 map one-to-one
        return value.decode("latin-1")
    return None


def _match_filters(
    filters: dict[str, re.Pattern[str]], content: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, int]] | None:
    """Return (named groups, end offset of each match) or None."""
    kwargs: dict[str, Any] = {}
    ends: dict[str, int] = {}
    for key, regex in filters.items():
        value = _filter_value(content, key)
        if value is None:
            return None
        found = regex.match(value)
        if found is None:
            return None
        kwargs.update(found.groupdict())
        ends[key] = found.end()
    return kwargs, ends


class Route:
    """One channel (or list of channels) → consumer, with optional regex filters."""

    def __init__(
        self, channels: str | Iterable[str], consumer: Consumer | str, **filters: Any
    ) -> None:
        if isinstance(channels, str):
            self.channels = [channels]
        else:
            self.channels = list(channels)
        if not self.channels or not all(isinstance(name, str) for name in self.channels):
            raise TypeError(f"route() needs a channel name or list of names, got {channels!r}")
        self._consumer: Consumer | str = consumer
        self.filters = {key: _compile_filter(key, value) for key, value in filters.items()}

    @property
    def consumer(self) -> Consumer:
        """The consumer callable, imported on first use when given as a dotted path."""
        if isinstance(self._consumer, str):
            self._consumer = import_consumer(self._consumer)
            if not callable(self._consumer):
                raise ImproperlyConfigured(f"Consumer {self._consumer!r} is not callable")
        return self._consumer

    def resolve(self) -> None:
        """Import a dotted-path consumer now, so errors show at start-up."""
        _ = self.consumer

    def channel_names(self) -> set[str]:
        """Channels this route listens on."""
        return set(self.channels)

    def match(self, message: Message) -> Match | None:
        """``(consumer, kwargs)`` if this route takes ``message``, else None."""
        if message.channel.name not in self.channels:
            return None
        found = _match_filters(self.filters, message.content)
        if found is None:
            return None
        return self.consumer, found[0]

    def __repr__(self) -> str:
        filters = ", ".join(f"{key}={regex.pattern!r}" for key, regex in self.filters.items())
        return f"<Route {self.channels} -> {self._consumer!r} {filters}>"


class RouteClass(Route):
    """Routes the channels a consumer class declares (``channel_names()``) to that class."""

    def __init__(self, consumer: Any, **filters: Any) -> None:
        if isinstance(consumer, str):
            consumer = import_consumer(consumer, "consumer class")
        channel_names = getattr(consumer, "channel_names", None)
        if channel_names is None:
            raise TypeError(
                f"route_class() needs a class with channel_names(), such as a BaseConsumer "
                f"subclass; got {consumer!r}"
            )
        super().__init__(sorted(channel_names()), consumer, **filters)


class Include:
    """A nested routing table, optionally behind prefix filters."""

    def __init__(self, routing: Any, **filters: Any) -> None:
        self.routing = Router.resolve_routing(routing)
        self.filters = {key: _compile_filter(key, value) for key, value in filters.items()}

    def resolve(self) -> None:
        """Import every dotted-path consumer below this include."""
        for entry in self.routing:
            entry.resolve()

    def channel_names(self) -> set[str]:
        """Union of every inner route's channels."""
        names: set[str] = set()
        for entry in self.routing:
            names |= entry.channel_names()
        return names

    def match(self, message: Message) -> Match | None:
        """First inner match, with this include's matched prefixes stripped for inner routes."""
        inner_message = message
        outer_kwargs: dict[str, Any] = {}
        if self.filters:
            found = _match_filters(self.filters, message.content)
            if found is None:
                return None
            outer_kwargs, ends = found
            content = dict(message.content)
            for key, end in ends.items():
                content[key] = content[key][end:]
            inner_message = _StrippedMessage(content, message)
        for entry in self.routing:
            result = entry.match(inner_message)
            if result is not None:
                consumer, kwargs = result
                # An inner route's kwargs win over the include's on a clash.
                return consumer, {**outer_kwargs, **kwargs}
        return None


class _StrippedMessage(Message):
    """A view of a message with some keys rewritten, used only for matching."""

    def __init__(self, content: dict[str, Any], original: Message) -> None:
        self.content = content
        self.channel = original.channel
        self.channel_layer = original.channel_layer
        self.reply_channel = original.reply_channel
        self.attempts = original.attempts


RoutingEntry = Route | Include


class Router:
    """Matches messages to consumers through a routing table."""

    def __init__(self, routing: Any) -> None:
        self.root = Include(routing)
        self.root.resolve()
        self.channels = self.root.channel_names()

    @staticmethod
    def resolve_routing(routing: Any) -> list[RoutingEntry]:
        """Turn a dotted path, list or ``{channel: consumer}`` dict into a list of entries."""
        if isinstance(routing, str):
            routing = import_consumer(routing, "routing")
        if isinstance(routing, Mapping):
            return [Route(channel, consumer) for channel, consumer in routing.items()]
        if isinstance(routing, (list, tuple)):
            entries: list[RoutingEntry] = []
            for entry in routing:
                if isinstance(entry, (list, tuple)):
                    entries.append(Include(entry))
                elif isinstance(entry, (Route, Include)):
                    entries.append(entry)
                else:
                    raise ImproperlyConfigured(
                        f"Routing entries must be route(), route_class() or include(), "
                        f"not {entry!r}"
                    )
            return entries
        raise ImproperlyConfigured(
            f"Routing must be a list, a dict or a dotted path to one, not "
            f"{type(routing).__name__}"
        )

    def add_route(self, entry: RoutingEntry) -> None:
        """Append a route or include at the bottom of the table."""
        entry.resolve()
        self.root.routing.append(entry)
        self.channels |= entry.channel_names()

    def check_default(self, http_consumer: Consumer | None = None) -> None:
        """Append the default routes at the bottom of the table.

        ``http.request`` goes to Django's views (or ``http_consumer``), ``websocket.connect``
        is accepted, and ``websocket.receive``/``websocket.disconnect`` are ignored — each only
        for messages no earlier route took.  Calling it twice adds nothing more.
        """
        if getattr(self, "_defaults_added", False):
            return
        self._defaults_added = True
        if http_consumer is None:
            from .handler import ViewConsumer

            http_consumer = ViewConsumer()
        self.add_route(Route("http.request", http_consumer))
        self.add_route(Route("websocket.connect", connect_consumer))
        self.add_route(Route("websocket.receive", null_consumer))
        self.add_route(Route("websocket.disconnect", null_consumer))

    def match(self, message: Message) -> Match | None:
        """``(consumer, kwargs)`` for the first matching route, or None."""
        return self.root.match(message)


def route(channels: str | Iterable[str], consumer: Consumer | str, **filters: Any) -> Route:
    """Route ``channels`` to ``consumer`` (a callable or dotted path) when ``filters`` match."""
    return Route(channels, consumer, **filters)


def route_class(consumer: Any, **filters: Any) -> RouteClass:
    """Route a consumer class's channels (``channel_names()``) to it."""
    return RouteClass(consumer, **filters)


def include(routing: Any, **filters: Any) -> Include:
    """Nest a routing table, optionally behind prefix filters that are stripped for it."""
    return Include(routing, **filters)


def null_consumer(message: Message, **kwargs: Any) -> None:
    """Consume and ignore a message."""


def connect_consumer(message: Message, **kwargs: Any) -> None:
    """Accept a WebSocket connection."""
    if message.reply_channel is not None:
        message.reply_channel.send({"accept": True})
