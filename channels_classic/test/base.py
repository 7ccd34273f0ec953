"""Test cases, the channel test ``Client`` and ``apply_routes``.

Messages are consumed exactly as the worker consumes them (:func:`worker.dispatch.dispatch`:
buffered sends, ``ConsumeLater`` requeues, ``DenyConnection``, auto-accept, default routes), so
what passes here behaves the same under ``runworker``.  One difference is on purpose: a
consumer's exception, which the worker logs and survives, is raised in the test by default
(``Client(raise_consumer_exceptions=False)`` turns that off).
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
import unittest
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import close_old_connections
from django.test.testcases import TestCase, TransactionTestCase

from .. import DEFAULT_CHANNEL_LAYER
from ..asgi import ChannelLayerWrapper, channel_layers
from ..channel import Group
from ..layers.base import new_process_prefix
from ..layers.inmemory import InMemoryChannelLayer
from ..layers.validation import non_local_name, random_token
from ..message import Message
from ..routing import Route, Router
from ..signals import consumer_finished, consumer_started

__all__ = [
    "ChannelTestCase",
    "ChannelTestCaseMixin",
    "Client",
    "TransactionChannelTestCase",
    "apply_routes",
    "in_memory_layer",
    "next_message",
    "use_channel_layers",
]


#: Django 5.2 turned ``_pre_setup`` into a classmethod; the mixin must match its base.
_PRE_SETUP_IS_CLASSMETHOD = isinstance(
    inspect.getattr_static(TransactionTestCase, "_pre_setup"), classmethod
)


def _current_routing(alias: str) -> Any:
    # The routing of the layer in use (e.g. one apply_routes set on the class), without
    # building a layer from settings: that could connect to a Redis the test does not use.
    wrapper = channel_layers.backends.get(alias)
    routing = wrapper.routing if wrapper is not None else channel_layers.configs[alias]["ROUTING"]
    return list(routing) if isinstance(routing, (list, tuple)) else routing


def in_memory_layer(alias: str = DEFAULT_CHANNEL_LAYER, **config: Any) -> ChannelLayerWrapper:
    """A fresh in-memory layer for ``alias``, routed like the layer it replaces."""
    return ChannelLayerWrapper(InMemoryChannelLayer(**config), alias, _current_routing(alias))


@contextmanager
def use_channel_layers(layers: Mapping[str, ChannelLayerWrapper]) -> Iterator[None]:
    """Install ``{alias: layer wrapper}`` in ``channel_layers`` for the block, then restore."""
    previous = {alias: channel_layers.set(alias, layer) for alias, layer in layers.items()}
    try:
        yield
    finally:
        for alias, old in previous.items():
            channel_layers.set(alias, old)


def next_message(channel: str, alias: str = DEFAULT_CHANNEL_LAYER) -> Message | None:
    """The next message on ``channel`` (a ``prefix!`` receives any of its channels), or None."""
    layer = channel_layers[alias]
    name = non_local_name(channel) if "!" in channel else channel
    deliveries = layer.fetch([name])
    if not deliveries:
        return None
    delivery = deliveries[0]
    return Message(delivery.content, delivery.channel, layer, delivery.attempts)


class ChannelTestCaseMixin:
    """Gives every test fresh in-memory layers for ``test_channel_aliases``.

    Each alias keeps its routing (including routes set by ``apply_routes`` on the class) and
    gets its own empty layer, restored after the test.
    """

    test_channel_aliases: list[str] = [DEFAULT_CHANNEL_LAYER]

    def _install_test_layers(owner: Any) -> None:  # noqa: N805 - a class or an instance
        layers = {alias: in_memory_layer(alias) for alias in owner.test_channel_aliases}
        owner._channel_layers_cm = use_channel_layers(layers)
        owner._channel_layers_cm.__enter__()

    if _PRE_SETUP_IS_CLASSMETHOD:
        # Django 5.2+: TransactionTestCase runs the first _pre_setup on the class, eagerly.
        @classmethod
        def _pre_setup(cls) -> None:
            super()._pre_setup()  # type: ignore[misc]
            cls._install_test_layers(cls)

    else:

        def _pre_setup(self) -> None:  # type: ignore[misc]
            super()._pre_setup()  # type: ignore[misc]
            self._install_test_layers()

    def _post_teardown(self) -> None:
        self._channel_layers_cm.__exit__(None, None, None)
        super()._post_teardown()  # type: ignore[misc]

    def get_next_message(
        self, channel: str, alias: str = DEFAULT_CHANNEL_LAYER, require: bool = False
    ) -> Message | None:
        """The next message sent to ``channel`` during the test, or None.

        With ``require=True`` the test fails when there is none.
        """
        message = next_message(channel, alias)
        if message is None and require:
            raise AssertionError(f"Expected a message on channel {channel}, got none")
        return message


class ChannelTestCase(ChannelTestCaseMixin, TestCase):
    """A Django ``TestCase`` with fresh in-memory channel layers."""


class TransactionChannelTestCase(ChannelTestCaseMixin, TransactionTestCase):
    """A Django ``TransactionTestCase`` with fresh in-memory channel layers."""


class _ConnectionGuard:
    """Keeps ``close_old_connections`` off the consumer signals while test consumers run.

    The worker closes stale database connections around every consumer; inside a test
    transaction that would close the test's own connection (Django's test client does the
    same for ``request_started``/``request_finished``).  Counted, so threads can nest it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                consumer_started.disconnect(close_old_connections)
                consumer_finished.disconnect(close_old_connections)
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    consumer_started.connect(close_old_connections)
                    consumer_finished.connect(close_old_connections)


_keep_db_connections = _ConnectionGuard()


def routed(layer: ChannelLayerWrapper) -> Router:
    """The layer's router with the default routes appended, as the worker uses it."""
    router = layer.router
    router.check_default()
    return router


class Client:
    """Sends messages as one client connection would and runs their consumers.

    Args:
        alias: the channel layer to use.
        reply_channel_prefix: start of the (process-local, ``!``) reply channel name.
        raise_consumer_exceptions: re-raise an exception a consumer raised, after the
            message was handled as the worker handles it.
    """

    def __init__(
        self,
        alias: str = DEFAULT_CHANNEL_LAYER,
        reply_channel_prefix: str = "test",
        raise_consumer_exceptions: bool = True,
    ) -> None:
        self.alias = alias
        self.reply_channel = new_process_prefix(reply_channel_prefix) + random_token(8)
        self.raise_consumer_exceptions = raise_consumer_exceptions

    @property
    def channel_layer(self) -> ChannelLayerWrapper:
        """The layer currently installed for :attr:`alias`."""
        return channel_layers[self.alias]

    def get_next_message(self, channel: str) -> Message | None:
        """The next message on ``channel``, or None."""
        return next_message(channel, self.alias)

    def get_consumer_by_channel(self, channel: str) -> Any:
        """The consumer a bare message on ``channel`` would be routed to, or None."""
        message = Message({"text": ""}, channel, self.channel_layer)
        found = routed(self.channel_layer).match(message)
        return found[0] if found else None

    def prepare(self, to: str, content: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The message :meth:`send` sends: a copy of ``content`` with ``reply_channel``.

        Raises:
            TypeError: ``content`` is not a dict.
        """
        if content is not None and not isinstance(content, Mapping):
            raise TypeError(f"Message content must be a dict, not {type(content).__name__}")
        prepared = copy.deepcopy(dict(content or {}))
        prepared.setdefault("reply_channel", self.reply_channel)
        return prepared

    def send(self, to: str, content: Mapping[str, Any] | None = None) -> None:
        """Send ``content`` (plus this client's ``reply_channel``) to channel ``to``."""
        self.channel_layer.send(to, self.prepare(to, content))

    def consume(self, channel: str, fail_on_none: bool = True) -> Any:
        """Take the next message on ``channel`` and run its consumer like the worker does.

        Returns the worker's :class:`~worker.dispatch.Result`, or None when there was no
        message and ``fail_on_none`` is false.

        Raises:
            AssertionError: no message (or no route) and ``fail_on_none``.
            Exception: what the consumer raised, if ``raise_consumer_exceptions``.
        """
        from worker.dispatch import Outcome, dispatch

        layer = self.channel_layer
        name = non_local_name(channel) if "!" in channel else channel
        deliveries = layer.fetch([name])
        if not deliveries:
            if fail_on_none:
                raise AssertionError(f"No message for channel {channel}")
            return None
        with _keep_db_connections():
            result = dispatch(deliveries[0], layer, routed(layer))
        if result.outcome is Outcome.UNROUTED and fail_on_none:
            raise AssertionError(f"Can't find consumer for a message on {channel}")
        if (
            result.outcome is Outcome.FAILED
            and result.error is not None
            and self.raise_consumer_exceptions
        ):
            raise result.error
        return result

    def send_and_consume(
        self, channel: str, content: Mapping[str, Any] | None = None, fail_on_none: bool = True
    ) -> Any:
        """:meth:`send`, then :meth:`consume` the same channel."""
        self.send(channel, content)
        return self.consume(channel, fail_on_none=fail_on_none)

    def receive(self) -> dict[str, Any] | None:
        """The next message sent to this client's reply channel, or None."""
        message = self.get_next_message(self.reply_channel)
        return message.content if message is not None else None

    def join_group(self, group_name: str) -> None:
        """Add this client's reply channel to a group."""
        Group(group_name, channel_layer=self.channel_layer).add(self.reply_channel)


class apply_routes:  # noqa: N801 - the 1.x name
    """Use other routes for some layers: decorator (function or class) or context manager.

    ``routes`` is a route, a list of routes, or a list of lists (each becomes an include).
    ``aliases`` defaults to ``["default"]``; each named layer is routed with them.
    """

    def __init__(self, routes: Any, aliases: list[str] | None = None) -> None:
        if isinstance(routes, Route) or not isinstance(routes, (list, tuple, dict, str)):
            routes = [routes]
        self.routes = routes
        self.aliases = list(aliases) if aliases is not None else [DEFAULT_CHANNEL_LAYER]
        self._saved: list[dict[str, ChannelLayerWrapper | None]] = []

    def __enter__(self) -> apply_routes:
        saved: dict[str, ChannelLayerWrapper | None] = {}
        try:
            for alias in self.aliases:
                current = channel_layers[alias]
                rerouted = ChannelLayerWrapper(current.channel_layer, alias, self.routes)
                rerouted.router  # noqa: B018 - resolve now, so a bad route fails here
                saved[alias] = channel_layers.set(alias, rerouted)
        except BaseException:
            for alias, old in saved.items():
                channel_layers.set(alias, old)
            raise
        self._saved.append(saved)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for alias, old in self._saved.pop().items():
            channel_layers.set(alias, old)

    def __call__(self, target: Any) -> Any:
        if isinstance(target, type):
            return self._decorate_class(target)
        if inspect.iscoroutinefunction(target):
            raise TypeError("apply_routes cannot decorate coroutine functions")

        @functools.wraps(target)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self:
                return target(*args, **kwargs)

        return inner

    def _decorate_class(self, cls: type) -> type:
        if issubclass(cls, unittest.TestCase):
            # As in 1.x: for the whole class, so each test's fresh layer copies these routes.
            original_setup = cls.__dict__.get("setUpClass")
            original_teardown = cls.__dict__.get("tearDownClass")
            decorator = self

            def set_up_class(klass: type) -> None:
                decorator.__enter__()
                try:
                    if original_setup is not None:
                        original_setup.__func__(klass)
                    else:
                        super(cls, klass).setUpClass()  # type: ignore[misc]
                except BaseException:
                    decorator.__exit__(None, None, None)
                    raise

            def tear_down_class(klass: type) -> None:
                try:
                    if original_teardown is not None:
                        original_teardown.__func__(klass)
                    else:
                        super(cls, klass).tearDownClass()  # type: ignore[misc]
                finally:
                    decorator.__exit__(None, None, None)

            cls.setUpClass = classmethod(set_up_class)  # type: ignore[assignment]
            cls.tearDownClass = classmethod(tear_down_class)  # type: ignore[assignment]
            return cls
        # Plain (pytest) classes: wrap each test method, as unittest.mock.patch does.
        for name, value in list(vars(cls).items()):
            if name.startswith("test") and callable(value):
                setattr(cls, name, self(value))
        return cls
