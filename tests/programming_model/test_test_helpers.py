"""channels_classic.test: test cases, Client, WSClient, apply_routes, deprecated aliases."""

from __future__ import annotations

import importlib
import sys

import pytest
from django.test import SimpleTestCase

from channels_classic import Channel, Group, channel_layers
from channels_classic.exceptions import ConsumeLater, InvalidMessage
from channels_classic.layers import InMemoryChannelLayer
from channels_classic.layers.validation import validate_channel_name
from channels_classic.routing import route
from channels_classic.test import (
    ChannelTestCase,
    ChannelTestCaseMixin,
    Client,
    HttpClient,
    TransactionChannelTestCase,
    WSClient,
    apply_routes,
)

# -- test cases ------------------------------------------------------------------------------


def test_mixin_swaps_each_alias_for_a_fresh_routed_layer_and_restores_it(settings):
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        "helpers-other": {"BACKEND": "asgiref.inmemory.ChannelLayer",
                          "ROUTING": [route("x", print)]},
    }

    class Case(ChannelTestCaseMixin, SimpleTestCase):
        test_channel_aliases = ["default", "helpers-other"]

    before = channel_layers["default"], channel_layers["helpers-other"]
    case = Case()
    case._pre_setup()
    during = channel_layers["default"], channel_layers["helpers-other"]
    try:
        for old, new in zip(before, during, strict=True):
            assert new is not old
            assert isinstance(new.channel_layer, InMemoryChannelLayer)
            assert new.channel_layer is not old.channel_layer
            assert list(new.routing) == list(old.routing)
        Channel("probe", alias="helpers-other").send({"n": 1})
        assert case.get_next_message("probe", alias="helpers-other")["n"] == 1
        assert case.get_next_message("probe", alias="helpers-other") is None
        with pytest.raises(AssertionError, match="Expected a message on channel probe"):
            case.get_next_message("probe", alias="helpers-other", require=True)
    finally:
        case._post_teardown()
    assert (channel_layers["default"], channel_layers["helpers-other"]) == before
    channel_layers.set("helpers-other", None)


def echo(message):
    message.reply_channel.send({"text": message["text"]})


@apply_routes([route("websocket.receive", echo)])
class DecoratedTestCase(ChannelTestCase):
    """apply_routes on a ChannelTestCase class: every test's fresh layer has the routes."""

    layers_seen: list = []

    def test_first(self):
        self._check()

    def test_second(self):
        self._check()

    def _check(self):
        layer = channel_layers["default"]
        assert layer not in self.layers_seen  # fresh for each test
        self.layers_seen.append(layer)
        client = WSClient()
        client.send_and_consume("websocket.receive", text="hi")
        self.assertEqual(client.receive(json=False), "hi")


def test_class_decoration_is_undone():
    assert channel_layers["default"].routing == "tests.testapp.routing.channel_routing"


class TransactionalTests(TransactionChannelTestCase):
    """The transactional variant swaps layers the same way, around real commits."""

    def test_layer_is_fresh_and_consumers_commit(self):
        from django.contrib.auth import get_user_model

        def create(message):
            get_user_model().objects.create_user(message["name"])

        assert isinstance(channel_layers["default"].channel_layer, InMemoryChannelLayer)
        with apply_routes([route("custom", create)]):
            Client().send_and_consume("custom", {"name": "grace"})
        assert get_user_model().objects.filter(username="grace").exists()


@apply_routes([route("websocket.receive", echo)])
class TestPlainClass:
    def test_routes_apply(self, layer):
        client = WSClient()
        client.send_and_consume("websocket.receive", text="plain")
        assert client.receive(json=False) == "plain"


# -- Client ------------------------------------------------------------------------------------


def test_client_reply_channel_is_process_local(layer):
    client = Client(reply_channel_prefix="mytests")
    assert client.reply_channel.startswith("mytests.") and "!" in client.reply_channel
    validate_channel_name(client.reply_channel)
    assert Client().reply_channel != client.reply_channel


def test_client_send_consume_receive(layer):
    def consumer(message):
        message.reply_channel.send({"got": message["n"]})

    with apply_routes(route("custom", consumer)):
        client = Client()
        assert client.get_consumer_by_channel("custom") is consumer
        assert client.get_consumer_by_channel("nothing") is None
        result = client.send_and_consume("custom", {"n": 1})
        assert result.outcome.value == "consumed"
        assert client.receive() == {"got": 1}
        assert client.receive() is None


def test_client_consume_failures(layer):
    client = Client()
    with pytest.raises(AssertionError, match="No message for channel custom"):
        client.consume("custom")
    assert client.consume("custom", fail_on_none=False) is None
    client.send("custom", {"n": 1})
    with pytest.raises(AssertionError, match="Can't find consumer"):
        client.consume("custom")
    client.send("custom", {"n": 1})
    assert client.consume("custom", fail_on_none=False).outcome.value == "unrouted"


def test_client_raises_consumer_exceptions_after_handling_them(layer):
    def broken(message):
        message.reply_channel.send({"text": "sent before the error"})
        raise KeyError("boom")

    with apply_routes([route("custom", broken)]):
        client = Client()
        with pytest.raises(KeyError):
            client.send_and_consume("custom")
        assert client.receive() == {"text": "sent before the error"}  # flushed, as in the worker
        quiet = Client(raise_consumer_exceptions=False)
        assert quiet.send_and_consume("custom").outcome.value == "failed"


def test_client_consume_later_is_requeued_like_the_worker_does(layer):
    attempts = []

    def later(message):
        attempts.append(message.attempts)
        if len(attempts) < 3:
            raise ConsumeLater()

    with apply_routes([route("custom", later)]):
        client = Client()
        client.send("custom", {"n": 1})
        outcomes = [client.consume("custom").outcome.value for _ in range(3)]
    assert outcomes == ["requeued", "requeued", "consumed"]
    assert attempts == [0, 1, 2]


def test_default_routes_apply(layer, db):
    client = WSClient()
    client.send_and_consume("websocket.connect")  # accepted by the default consumer
    client.send_and_consume("websocket.receive", text="ignored")
    http = Client()
    http.send_and_consume("http.request", {"method": "GET", "path": "/hello/",
                                           "http_version": "1.1", "query_string": b"",
                                           "headers": [[b"host", b"testserver"]]})
    response = http.receive()
    assert response["status"] == 200 and response["content"] == b"Hello /hello/"


def test_database_work_in_consumers_stays_in_the_test_transaction(layer, django_user_model, db):
    def create(message):
        django_user_model.objects.create_user(message["name"])

    with apply_routes([route("custom", create)]):
        Client().send_and_consume("custom", {"name": "ada"})
    assert django_user_model.objects.filter(username="ada").exists()


def test_non_dict_input_is_refused(layer, caplog):
    client = Client(raise_consumer_exceptions=False)
    with pytest.raises(TypeError, match="must be a dict"):
        client.send("custom", ["not", "a", "dict"])

    def sends_text(message):
        message.reply_channel.send("a consumer bug")

    with apply_routes([route("custom", sends_text)]):
        result = client.send_and_consume("custom")
    assert isinstance(result.error, InvalidMessage)
    assert "failed on a message from custom" in caplog.text


def test_join_group(layer):
    client = Client()
    client.join_group("room")
    Group("room").send({"text": "hi"})
    assert client.receive() == {"text": "hi"}


# -- WSClient --------------------------------------------------------------------------------


def capture(message):
    message.reply_channel.send({"content": message.content})


def captured(client, channel, **kwargs):
    with apply_routes([route(channel, capture)]):
        client.send_and_consume(channel, check_accept=False, **kwargs)
    return client.receive(json=False)["content"]


def test_wsclient_message_shapes(layer):
    client = WSClient()
    client.set_header("User-Agent", "tests")
    client.set_header("user-agent", "tests/2")
    client.set_cookie("theme", "dark")
    with pytest.raises(ValueError, match="set_cookie"):
        client.set_header("Cookie", "x=1")
    connect = captured(client, "websocket.connect", path="/chat/?room=1")
    assert connect["path"] == "/chat/"
    assert connect["query_string"] == b"room=1"
    assert connect["headers"] == [[b"user-agent", b"tests/2"], [b"cookie", b"theme=dark"]]
    receive = captured(client, "websocket.receive", text={"a": 1}, path="/chat/?room=1")
    assert receive == {"reply_channel": client.reply_channel, "path": "/chat/",
                       "text": '{"a": 1}'}
    old_style = captured(client, "websocket.connect", content={"headers": {"Origin": "x"}})
    assert old_style["headers"] == [[b"origin", b"x"]]


def test_wsclient_ordered_numbers_every_message(layer):
    client = WSClient(ordered=True)
    assert captured(client, "websocket.connect")["order"] == 0
    assert captured(client, "websocket.receive", text="a")["order"] == 1
    with pytest.raises(ValueError, match="Do not set 'order'"):
        client.send("websocket.receive", {"order": 5})


def test_wsclient_receive_decoding(layer):
    client = WSClient()
    reply = Channel(client.reply_channel)
    reply.send({"text": '{"a": 1}'})
    reply.send({"text": '{"a": 1}'})
    reply.send({"text": "plain"})
    reply.send({"bytes": b"raw"})
    assert client.receive() == {"a": 1}
    assert client.receive(json=False) == '{"a": 1}'
    with pytest.raises(ValueError):
        client.receive()  # as in 1.x: plain text needs json=False
    assert client.receive() == {"bytes": b"raw"}
    assert client.receive() is None


def test_wsclient_check_accept(layer):
    def reject(message):
        message.reply_channel.send({"close": True})

    with apply_routes([route("websocket.connect", reject)]):
        client = WSClient()
        with pytest.raises(AssertionError, match="Connection rejected"):
            client.send_and_consume("websocket.connect")


def test_wsclient_session_is_the_channel_session(layer, cache_sessions):
    from channels_classic.sessions import channel_session

    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    with apply_routes([route("websocket.connect", connect)]):
        client = WSClient()
        client.send_and_consume("websocket.connect")
    assert client.session["room"] == "lobby"


# -- apply_routes --------------------------------------------------------------------------


def test_apply_routes_as_context_manager_nests_and_restores(layer):
    original = channel_layers["default"]
    with apply_routes([route("a", echo)]):
        outer = channel_layers["default"]
        assert outer.channel_layer is original.channel_layer  # same messages, other routes
        with apply_routes([route("b", echo)]):
            assert channel_layers["default"].router.channels == {"b"}
        assert channel_layers["default"] is outer
    assert channel_layers["default"] is original


def test_apply_routes_list_of_lists_become_includes(layer):
    with apply_routes([[route("a", echo)], [route("b", echo)]]):
        assert channel_layers["default"].router.channels == {"a", "b"}


def test_apply_routes_only_touches_the_given_aliases(layer, settings):
    settings.CHANNEL_LAYERS = {
        **settings.CHANNEL_LAYERS,
        "helpers-second": {"BACKEND": "asgiref.inmemory.ChannelLayer", "ROUTING": []},
    }
    default = channel_layers["default"]
    try:
        with apply_routes([route("a", echo)], aliases=["helpers-second"]):
            assert channel_layers["default"] is default
            assert channel_layers["helpers-second"].router.channels == {"a"}
    finally:
        channel_layers.set("helpers-second", None)


def test_apply_routes_bad_routes_fail_at_once_and_change_nothing(layer):
    before = channel_layers["default"]
    with pytest.raises(Exception, match="no_such_module"), apply_routes(
        [route("a", "no_such_module.consumer")]
    ):
        pass  # pragma: no cover
    assert channel_layers["default"] is before


def test_apply_routes_decorates_functions(layer):
    @apply_routes(route("a", echo))
    def inside():
        return channel_layers["default"].router.channels

    assert inside() == {"a"}
    assert channel_layers["default"].router.channels == set()

    async def coroutine():
        pass  # pragma: no cover

    with pytest.raises(TypeError, match="coroutine"):
        apply_routes([])(coroutine)


# -- deprecated names ----------------------------------------------------------------------


def test_http_client_is_a_deprecated_wsclient(layer):
    with pytest.warns(DeprecationWarning, match="HttpClient is deprecated"):
        client = HttpClient()
    assert isinstance(client, WSClient)


def test_channels_classic_tests_is_a_deprecated_alias():
    sys.modules.pop("channels_classic.tests", None)
    with pytest.warns(DeprecationWarning, match="channels_classic.tests is deprecated"):
        module = importlib.import_module("channels_classic.tests")
    assert module.ChannelTestCase is ChannelTestCase and module.WSClient is WSClient
