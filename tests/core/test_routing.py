"""Routing: route filters, named groups, include prefix stripping, dict/list/dotted routing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from channels_classic.layers import InMemoryChannelLayer
from channels_classic.message import Message
from channels_classic.routing import Router, include, route


def consumer_a(message, **kwargs):
    return "a"


def consumer_b(message, **kwargs):
    return "b"


def make(channel, **content):
    return Message(content, channel, InMemoryChannelLayer())


def test_first_match_wins_and_filters_apply():
    router = Router([
        route("http.request", consumer_a, path=r"^/poll/$", method=r"^POST$"),
        route("http.request", consumer_b),
    ])
    assert router.match(make("http.request", path="/poll/", method="POST")) == (consumer_a, {})
    assert router.match(make("http.request", path="/poll/", method="GET")) == (consumer_b, {})
    assert router.channels == {"http.request"}


def test_named_groups_become_kwargs_and_positional_groups_are_rejected():
    router = Router([route("websocket.connect", consumer_a, path=r"^/(?P<room>[a-z]+)/$")])
    found = router.match(make("websocket.connect", path="/lobby/"))
    assert found == (consumer_a, {"room": "lobby"})
    assert router.match(make("websocket.connect", path="/Lobby/")) is None
    with pytest.raises(ValueError, match="named groups"):
        route("websocket.connect", consumer_a, path=r"^/([a-z]+)/$")


def test_missing_key_means_no_match():
    router = Router([route("websocket.receive", consumer_a, path=r"^/")])
    assert router.match(make("websocket.receive", text="hi")) is None


def test_include_strips_prefix_and_merges_kwargs():
    chat_routing = [
        route("websocket.connect", consumer_a, path=r"^/(?P<room>[a-zA-Z0-9_]+)/$"),
        route("websocket.disconnect", consumer_b),
    ]
    router = Router([include(chat_routing, path=r"^/(?P<area>chat)")])
    message = make("websocket.connect", path="/chat/lobby/")
    assert router.match(message) == (consumer_a, {"area": "chat", "room": "lobby"})
    # The consumer still gets the original message.
    assert message["path"] == "/chat/lobby/"
    assert router.match(make("websocket.connect", path="/other/lobby/")) is None
    found = router.match(make("websocket.disconnect", path="/chat/x/"))
    assert found == (consumer_b, {"area": "chat"})


def test_dict_routing_and_dotted_paths():
    router = Router({"websocket.receive": "tests.core.test_routing.consumer_b"})
    assert router.match(make("websocket.receive", text="x")) == (consumer_b, {})


def test_bad_dotted_paths_say_what_failed():
    with pytest.raises(ImproperlyConfigured, match="no_such_module"):
        Router([route("x", "no_such_module.consumer")])
    with pytest.raises(ImproperlyConfigured, match="has no attribute 'nope'"):
        Router([route("x", "tests.core.test_routing.nope")])
    with pytest.raises(ImproperlyConfigured, match="must be a list, a dict"):
        Router(42)


def test_nested_lists_become_includes_and_bytes_values_match():
    router = Router([[route("http.request", consumer_a, query_string=r"^a=1")]])
    assert router.match(make("http.request", query_string=b"a=1&b=2")) == (consumer_a, {})


def test_check_default_appends_defaults_once():
    router = Router([route("websocket.connect", consumer_a, path=r"^/only/$")])
    router.check_default(http_consumer=consumer_b)
    router.check_default(http_consumer=consumer_b)
    assert router.match(make("http.request", path="/")) == (consumer_b, {})
    consumer, _ = router.match(make("websocket.connect", path="/elsewhere/"))
    assert consumer.__name__ == "connect_consumer"
    assert router.match(make("websocket.connect", path="/only/"))[0] is consumer_a
    assert len(router.root.routing) == 5
