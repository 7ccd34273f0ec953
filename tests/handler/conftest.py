"""Fixtures for the HTTP handler tests."""

from __future__ import annotations

import pytest

from channels_classic.layers import InMemoryChannelLayer

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
