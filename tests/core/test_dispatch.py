"""worker.dispatch: the error policy shared by the worker and the test client."""

from __future__ import annotations

import pytest
from django.test import override_settings

from channels_classic.exceptions import ConsumeLater, DenyConnection, WebsocketCloseException
from channels_classic.layers import Delivery, InMemoryChannelLayer
from channels_classic.routing import Router, route
from worker.dispatch import Outcome, dispatch, name_that_thing


@pytest.fixture
def layer():
    return InMemoryChannelLayer()


def run(layer, routes, channel, content, attempts=0, **kwargs):
    return dispatch(Delivery(channel, content, attempts), layer, Router(routes), **kwargs)


def test_consumed_with_kwargs_and_replies_flushed(layer):
    seen = {}

    def consumer(message, room):
        seen["room"] = room
        message.reply_channel.send({"text": room})

    result = run(layer, [route("websocket.receive", consumer, path=r"^/(?P<room>\w+)/$")],
                 "websocket.receive", {"reply_channel": "r!1", "path": "/lobby/", "text": "x"})
    assert result.outcome is Outcome.CONSUMED
    assert result.consumer.endswith("consumer")
    assert seen == {"room": "lobby"}
    assert layer.receive(["r!"]) == ("r!1", {"text": "lobby"})


def test_unrouted_is_reported(layer, caplog):
    result = run(layer, [], "nothing.here", {"a": 1})
    assert result.outcome is Outcome.UNROUTED
    assert "No route for a message on nothing.here" in caplog.text


def test_consumer_exception_is_logged_and_contained(layer, caplog):
    def broken(message):
        message.reply_channel.send({"text": "before the error"})
        raise KeyError("boom")

    result = run(layer, [route("websocket.receive", broken)], "websocket.receive",
                 {"reply_channel": "r!1"})
    assert result.outcome is Outcome.FAILED and isinstance(result.error, KeyError)
    assert "failed on a message from websocket.receive" in caplog.text
    assert layer.receive(["r!"])[1] == {"text": "before the error"}


def test_consume_later_requeues_outside_content_until_limit(layer, caplog):
    def later(message):
        message.reply_channel.send({"text": "discarded"})
        raise ConsumeLater()

    routes = [route("work", later)]
    result = run(layer, routes, "work", {"reply_channel": "r!1", "n": 1})
    assert result.outcome is Outcome.REQUEUED
    [delivery] = layer.fetch(["work"])
    assert delivery.content == {"reply_channel": "r!1", "n": 1}
    assert delivery.attempts == 1
    assert layer.receive(["r!"]) == (None, None)
    result = run(layer, routes, "work", delivery.content, attempts=2, consume_later_limit=2)
    assert result.outcome is Outcome.DROPPED_RETRIES
    assert "put back with ConsumeLater 2 times" in caplog.text
    assert layer.receive(["work"]) == (None, None)


def test_deny_connection_closes(layer):
    def deny(message):
        raise DenyConnection()

    result = run(layer, [route("websocket.connect", deny)], "websocket.connect",
                 {"reply_channel": "r!1", "path": "/"})
    assert result.outcome is Outcome.SOCKET_ACTION
    assert layer.receive(["r!"]) == ("r!1", {"close": True})


def test_deny_connection_outside_connect_is_a_failure(layer, caplog):
    def deny(message):
        raise DenyConnection()

    result = run(layer, [route("websocket.receive", deny)], "websocket.receive",
                 {"reply_channel": "r!1"})
    assert result.outcome is Outcome.FAILED
    assert "could not act on the socket" in caplog.text


def test_websocket_close_exception_with_code(layer):
    def close(message):
        raise WebsocketCloseException(4001)

    run(layer, [route("websocket.receive", close)], "websocket.receive",
        {"reply_channel": "interface.abc!def"})
    assert layer.receive(["interface.abc!"]) == ("interface.abc!def", {"close": 4001})
    with pytest.raises(ValueError):
        WebsocketCloseException(99)


def test_connect_without_reply_is_accepted_once(layer):
    def quiet(message):
        pass

    def rejecting(message):
        message.reply_channel.send({"close": True})

    run(layer, [route("websocket.connect", quiet)], "websocket.connect", {"reply_channel": "r!1"})
    assert layer.receive(["r!"]) == ("r!1", {"accept": True})
    assert layer.receive(["r!"]) == (None, None)
    run(layer, [route("websocket.connect", rejecting)], "websocket.connect",
        {"reply_channel": "r!2"})
    assert layer.receive(["r!"]) == ("r!2", {"close": True})
    assert layer.receive(["r!"]) == (None, None)


@override_settings(CHANNELS_AUTO_ACCEPT_CONNECT=False)
def test_auto_accept_can_be_turned_off(layer):
    run(layer, [route("websocket.connect", lambda message: None)], "websocket.connect",
        {"reply_channel": "r!1"})
    assert layer.receive(["r!"]) == (None, None)


def test_name_that_thing():
    class Thing:
        def method(self):
            pass

    assert name_that_thing(Thing().method).endswith("Thing.method")
    assert name_that_thing(test_name_that_thing).endswith("test_name_that_thing")
    assert name_that_thing(Thing()).endswith("Thing")
