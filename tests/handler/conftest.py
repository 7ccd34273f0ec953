"""Fixtures for the HTTP handler tests."""

from __future__ import annotations

import pytest
from django.core import signals
from django.db import close_old_connections

from channels_classic.layers import InMemoryChannelLayer
from channels_classic.signals import consumer_finished, consumer_started

from . import middleware, views


@pytest.fixture(autouse=True)
def handler_settings(settings):
    """Route to the handler test views; forget what earlier tests recorded."""
    settings.ROOT_URLCONF = "tests.handler.urls"
    middleware.events.clear()
    views.hooks.clear()
    yield settings
    views.hooks.clear()


@pytest.fixture
def layer():
    """An in-memory layer whose blocking receives give up quickly."""
    return InMemoryChannelLayer(receive_timeout=0.05)


@pytest.fixture(autouse=True)
def keep_test_database_connection():
    """Don't let request/consumer signals recycle the test database connection.

    Django's test client does the same: the connection belongs to the test framework (an
    in-memory SQLite database would vanish, and pytest-django forbids touching it from tests
    without the db mark).  The signals themselves are still sent and checked.
    """
    hooked = [signals.request_started, signals.request_finished, consumer_started,
              consumer_finished]
    disconnected = [signal for signal in hooked if signal.disconnect(close_old_connections)]
    yield
    for signal in disconnected:
        signal.connect(close_old_connections)
