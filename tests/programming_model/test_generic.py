"""channels_classic.generic: BaseConsumer, WebSocket consumers, JSON, (de)multiplexing."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest

from channels_classic import Group
from channels_classic.exceptions import SendNotAvailableOnDemultiplexer
from channels_classic.generic import BaseConsumer
from channels_classic.generic.websockets import (
    JsonWebsocketConsumer,
    WebsocketConsumer,
    WebsocketDemultiplexer,
    WebsocketMultiplexer,
)
from channels_classic.message import Message
from channels_classic.routing import route_class
from channels_classic.sessions import session_for_reply_channel
from channels_classic.test import WSClient, apply_routes

# -- BaseConsumer ----------------------------------------------------------------------------


class Pinger(BaseConsumer):
    method_mapping = {"ping": "on_ping", "pong": "on_pong"}
    calls: list = []

    def on_ping(self, message, **kwargs):
        type(self).calls.append(("ping", kwargs, self.kwargs, self.message is message))
        message.reply_channel.send({"pong": True})

    def on_pong(self, message, **kwargs):
        type(self).calls.append(("pong", kwargs))


@pytest.fixture(autouse=True)
def _reset_calls():
    Pinger.calls = []


def test_channel_names_and_dispatch(layer):
    assert Pinger.channel_names() == {"ping", "pong"}
    with apply_routes([Pinger.as_route(path=r"^/(?P<who>\w+)/")]):
        client = WSClient()
        client.send_and_consume("ping", path="/ada/")
        client.send_and_consume("pong", path="/bob/")
    assert Pinger.calls == [("ping", {"who": "ada"}, {"who": "ada"}, True),
                            ("pong", {"who": "bob"})]
    assert client.receive() == {"pong": True}


def test_as_route_with_attrs_builds_a_subclass(layer, cache_sessions):
    route = Pinger.as_route(attrs={"channel_session": True})
    assert route.consumer is not Pinger and issubclass(route.consumer, Pinger)
    assert route.consumer.channel_session is True and Pinger.channel_session is False
    with pytest.raises(TypeError, match="takes a dict"):
        Pinger.as_route(attrs=[("channel_session", True)])


def test_unknown_channel_is_a_clear_error(layer):
    with pytest.raises(ValueError, match="no method for channel 'other'"):
        Pinger(Message({"reply_channel": "r!1"}, "other", layer))


def test_session_flags_wrap_handlers(layer, cache_sessions):
    class Counter(BaseConsumer):
        method_mapping = {"count": "on_count"}
        channel_session = True

        def on_count(self, message, **kwargs):
            message.channel_session["n"] = message.channel_session.get("n", 0) + 1

    with apply_routes([route_class(Counter)]):
        client = WSClient()
        for _ in range(3):
            client.send_and_consume("count")
    assert session_for_reply_channel(client.reply_channel)["n"] == 3


def test_channel_session_user_flag(layer, django_user_model, db):
    from channels_classic.auth import transfer_user

    ada = django_user_model.objects.create_user("ada", password="pw-12345678")
    seen = []

    class Login(BaseConsumer):
        method_mapping = {"login": "on_login", "whoami": "on_whoami"}
        channel_session_user = True

        def on_login(self, message, **kwargs):
            from channels_classic.auth import http_session_user

            http_session_user(lambda m: transfer_user(m.http_session, m.channel_session))(
                message)

        def on_whoami(self, message, **kwargs):
            seen.append(message.user.username)

    with apply_routes([route_class(Login)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("login")
        client.send_and_consume("whoami")
    assert seen == ["ada"]


# -- WebsocketConsumer -----------------------------------------------------------------------


class Room(WebsocketConsumer):
    seen: list = []

    def connection_groups(self, **kwargs):
        return [f"room-{kwargs['room']}"]

    def receive(self, text=None, bytes=None, **kwargs):
        type(self).seen.append((self.path, text, bytes, kwargs))
        if text == "bye":
            self.send(text="closing", close=True)
        elif text == "close-only":
            self.send(close=4001)
        elif bytes is not None:
            self.send(bytes=bytes[::-1])
        else:
            self.group_send(f"room-{kwargs['room']}", text=f"echo {text}")

    def disconnect(self, message, **kwargs):
        type(self).seen.append(("disconnect", message["code"]))


ROOM_PATH = r"^/rooms/(?P<room>\w+)/$"


def test_websocket_consumer_lifecycle(layer):
    Room.seen = []
    with apply_routes([Room.as_route(path=ROOM_PATH)]):
        client = WSClient()
        client.send_and_consume("websocket.connect", path="/rooms/lobby/")
        assert layer.group_channels("room-lobby") == [client.reply_channel]
        client.send_and_consume("websocket.receive", text="hi", path="/rooms/lobby/")
        assert client.receive(json=False) == "echo hi"
        client.send_and_consume("websocket.receive", {"bytes": b"abc"}, path="/rooms/lobby/")
        assert client.receive(json=False) == {"bytes": b"cba"}
        client.send_and_consume("websocket.receive", text="close-only", path="/rooms/lobby/")
        assert client.receive() == {"close": 4001}
        client.send_and_consume("websocket.receive", text="bye", path="/rooms/lobby/")
        reply = client.get_next_message(client.reply_channel)
        assert reply.content == {"text": "closing", "close": True}
        client.send_and_consume("websocket.disconnect", {"code": 1000}, path="/rooms/lobby/")
    assert layer.group_channels("room-lobby") == []
    assert Room.seen[0] == ("/rooms/lobby/", "hi", None, {"room": "lobby"})
    assert Room.seen[-1] == ("disconnect", 1000)


def test_send_rejects_nonsense():
    with pytest.raises(ValueError, match="Nothing to send"):
        WebsocketConsumer.encode_frame()
    with pytest.raises(ValueError, match="not both"):
        WebsocketConsumer.encode_frame(text="a", bytes=b"b")
    with pytest.raises(TypeError, match="text must be a str"):
        WebsocketConsumer.encode_frame(text=123)
    with pytest.raises(TypeError, match="bytes must be bytes"):
        WebsocketConsumer.encode_frame(bytes="abc")
    with pytest.raises(ValueError, match="close code"):
        WebsocketConsumer.encode_frame(text="x", close=99)
    assert WebsocketConsumer.encode_frame(close=True) == {"close": True}
    assert WebsocketConsumer.encode_frame(text="", close=1001) == {"text": "", "close": 1001}


def test_close_and_group_send(layer):
    layer.group_add("everyone", "r!1")
    WebsocketConsumer.group_send("everyone", text="hello")
    WebsocketConsumer.group_send("everyone", close=True)
    assert layer.receive(["r!"]) == ("r!1", {"text": "hello"})
    assert layer.receive(["r!"]) == ("r!1", {"close": True})


def test_connect_can_reject(layer):
    class Picky(WebsocketConsumer):
        def connect(self, message, **kwargs):
            self.close()

    with apply_routes([route_class(Picky)]):
        client = WSClient()
        with pytest.raises(AssertionError, match="Connection rejected"):
            client.send_and_consume("websocket.connect")


def test_http_user(layer, django_user_model, db):
    seen = []
    ada = django_user_model.objects.create_user("ada", password="pw-12345678")

    class Authed(WebsocketConsumer):
        http_user = True

        def connect(self, message, **kwargs):
            seen.append(("connect", message.user.username))
            super().connect(message, **kwargs)

        def receive(self, text=None, bytes=None, **kwargs):
            seen.append(("receive", self.message.user.username))

    with apply_routes([route_class(Authed)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text="x")
    assert seen == [("connect", "ada"), ("receive", "ada")]


def test_http_user_and_session(layer, django_user_model, db):
    seen = []
    ada = django_user_model.objects.create_user("ada", password="pw-12345678")

    class Both(WebsocketConsumer):
        http_user_and_session = True

        def receive(self, text=None, bytes=None, **kwargs):
            seen.append((self.message.user.username, self.message.http_session is not None))

    with apply_routes([route_class(Both)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text="x")
    assert seen == [("ada", True)]


@pytest.mark.parametrize("flag", ["strict_ordering", "slight_ordering"])
def test_ordering_flags(layer, cache_sessions, flag):
    seen = []

    class Ordered(WebsocketConsumer):
        def receive(self, text=None, bytes=None, **kwargs):
            seen.append(int(text))

    with apply_routes([Ordered.as_route(attrs={flag: True})]):
        client = WSClient()
        client.send_and_consume("websocket.connect", {"order": 0})
        for order in (2, 1, 3):
            client.send("websocket.receive", {"order": order}, text=str(order))
        while client.consume("websocket.receive", fail_on_none=False):
            pass
    assert seen == ([1, 2, 3] if flag == "strict_ordering" else [2, 1, 3])


# -- JSON ------------------------------------------------------------------------------------


class Json(JsonWebsocketConsumer):
    def receive(self, content=None, **kwargs):
        self.send({"got": content, "at": datetime.datetime(2020, 1, 2, 3, 4, 5),
                   "price": Decimal("1.50"), "id": uuid.UUID(int=1)})


def test_json_round_trip_with_django_types(layer):
    with apply_routes([route_class(Json)]):
        client = WSClient()
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text={"a": [1, 2]})
        reply = client.receive()
    assert reply == {"got": {"a": [1, 2]}, "at": "2020-01-02T03:04:05", "price": "1.50",
                     "id": "00000000-0000-0000-0000-000000000001"}


@pytest.mark.parametrize(
    ("content", "code", "log"),
    [
        ({"text": "{not json"}, 1007, "frame is not valid JSON"),
        ({"bytes": b"\x00\x01"}, 1003, "binary frame received"),
    ],
)
def test_malformed_frames_close_the_socket_and_are_logged(layer, caplog, content, code, log):
    with apply_routes([route_class(Json)]):
        client = WSClient()
        client.send_and_consume("websocket.connect")
        result = client.send_and_consume("websocket.receive", content)
        assert result.outcome.value == "consumed"  # nothing for the worker to worry about
        assert client.receive() == {"close": code}
        # The consumer still serves other sockets.
        other = WSClient()
        other.send_and_consume("websocket.receive", text="1")
        assert other.receive()["got"] == 1
    assert log in caplog.text


def test_json_group_send(layer):
    layer.group_add("g", "r!1")
    JsonWebsocketConsumer.group_send("g", {"when": datetime.date(2020, 1, 2)}, close=True)
    _, content = layer.receive(["r!"])
    assert json.loads(content["text"]) == {"when": "2020-01-02"} and content["close"] is True


# -- multiplexing ----------------------------------------------------------------------------


class EchoStream(JsonWebsocketConsumer):
    events: list = []

    def connect(self, message, multiplexer=None, **kwargs):
        type(self).events.append(("connect", multiplexer.stream))

    def receive(self, content=None, multiplexer=None, **kwargs):
        type(self).events.append(("receive", multiplexer.stream, content))
        multiplexer.send({"echo": content})

    def disconnect(self, message, multiplexer=None, **kwargs):
        type(self).events.append(("disconnect", multiplexer.stream))


class Demux(WebsocketDemultiplexer):
    consumers = {"echo": EchoStream, "other": EchoStream}


def test_demultiplexer_routes_streams(layer):
    EchoStream.events = []
    with apply_routes([route_class(Demux)]):
        client = WSClient(raise_consumer_exceptions=False)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive",
                                text={"stream": "echo", "payload": {"n": 1}})
        assert client.receive() == {"stream": "echo", "payload": {"echo": {"n": 1}}}
        client.send_and_consume("websocket.disconnect", {"code": 1000})
    assert sorted(EchoStream.events[:2]) == [("connect", "echo"), ("connect", "other")]
    assert EchoStream.events[2] == ("receive", "echo", {"n": 1})
    assert sorted(EchoStream.events[3:]) == [("disconnect", "echo"), ("disconnect", "other")]


@pytest.mark.parametrize(
    ("frame", "log"),
    [
        ([1, 2], "frame is not {\"stream\""),
        ({"payload": {}}, "frame is not {\"stream\""),
        ({"stream": "echo", "payload": "text"}, "payload of stream 'echo' is not a JSON object"),
        ({"stream": "nope", "payload": {}}, "no consumer for stream 'nope'"),
    ],
)
def test_demultiplexer_ignores_bad_frames(layer, caplog, frame, log):
    EchoStream.events = []
    with apply_routes([route_class(Demux)]):
        client = WSClient()
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text=frame)
        assert client.receive() is None  # ignored; the socket stays open
        client.send_and_consume("websocket.receive",
                                text={"stream": "other", "payload": {"still": "open"}})
        assert client.receive()["payload"] == {"echo": {"still": "open"}}
    assert log in caplog.text


class SelfSender(JsonWebsocketConsumer):
    def receive(self, content=None, **kwargs):
        self.send({"echo": content})


class SelfSenderDemux(WebsocketDemultiplexer):
    consumers = {"s": SelfSender}


def test_demultiplexed_consumers_cannot_send_directly(layer):
    with apply_routes([route_class(SelfSenderDemux)]):
        client = WSClient()
        client.send_and_consume("websocket.connect")
        with pytest.raises(SendNotAvailableOnDemultiplexer, match="multiplexer"):
            client.send_and_consume("websocket.receive", text={"stream": "s", "payload": {}})
    # No class was patched: the same consumer on its own still sends.
    with apply_routes([route_class(SelfSender)]):
        direct = WSClient()
        direct.send_and_consume("websocket.connect")
        direct.send_and_consume("websocket.receive", text={"a": 1})
        assert direct.receive() == {"echo": {"a": 1}}


def test_demultiplexer_send_is_not_available(layer):
    with pytest.raises(SendNotAvailableOnDemultiplexer):
        Demux.group_send("g", {"a": 1})
    demux = Demux.__new__(Demux)
    with pytest.raises(SendNotAvailableOnDemultiplexer):
        demux.send({"a": 1})


def test_multiplexer(layer):
    layer.group_add("g", "r!1")
    reply = Message({"reply_channel": "r!2"}, "x", layer).reply_channel
    mux = WebsocketMultiplexer("news", reply)
    mux.send({"at": datetime.date(2020, 1, 2)})
    mux.close()
    WebsocketMultiplexer.group_send("g", "news", {"n": 1}, close=True)
    assert layer.receive(["r!"]) == ("r!2", {"text": '{"stream": "news", "payload": '
                                                     '{"at": "2020-01-02"}}'})
    assert layer.receive(["r!"]) == ("r!2", {"close": True})
    assert layer.receive(["r!"]) == ("r!1", {"text": '{"stream": "news", "payload": {"n": 1}}',
                                             "close": True})


def test_group_send_uses_the_default_layer(layer):
    Group("g").add("r!9")
    WebsocketConsumer.group_send("g", bytes=b"x")
    assert layer.receive(["r!"]) == ("r!9", {"bytes": b"x"})
