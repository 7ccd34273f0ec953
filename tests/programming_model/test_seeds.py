"""The Channels 1.x tutorials' examples (tests/seedapp), run as written, on both layers.

Each test routes the layer to one example's routing and drives it through the test clients,
which consume messages exactly as the worker does.  Every test runs against the in-memory
layer and against the Redis layer on a real redis-server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from channels_classic.routing import Router, route
from channels_classic.sessions import ORDER_KEY, channel_session_key, session_for_reply_channel
from channels_classic.test import Client, WSClient, apply_routes
from tests.seedapp.models import ChatMessage
from tests.seedapp.s001_ordering.strict import ws_message as strict_ws_message

SEEDS = "tests.seedapp"


@pytest.fixture
def seed_layer(any_layer, db):
    """The layer the example runs on (in-memory, then Redis), installed as ``default``."""
    return any_layer


@pytest.fixture
def users(django_user_model):
    return {name: django_user_model.objects.create_user(name, password="pw-" + name)
            for name in ("ada", "alan", "bob")}


def routing(example, name="channel_routing"):
    return apply_routes(f"{SEEDS}.{example}.routing.{name}")


def http_request(path="/", method="GET"):
    return {"method": method, "path": path, "http_version": "1.1", "query_string": b"",
            "headers": [[b"host", b"testserver"]]}


def connect(client, path="/chat/", **kwargs):
    client.send_and_consume("websocket.connect", path=path, **kwargs)


def say(client, text, path="/chat/"):
    client.send_and_consume("websocket.receive", text=text, path=path)


def leave(client, path="/chat/"):
    client.send_and_consume("websocket.disconnect", {"code": 1000}, path=path)


def texts(client):
    """Every text frame waiting for ``client``, in order."""
    received = []
    while (text := client.receive(json=False)) is not None:
        received.append(text)
    return received


def session_exists(client):
    return session_for_reply_channel(client.reply_channel).exists(
        channel_session_key(client.reply_channel))


# -- First consumers -------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["s000_first_consumers", "s001_first_consumers"])
def test_first_consumers_answer_http(seed_layer, example):
    with routing(example):
        client = Client()
        client.send_and_consume("http.request", http_request("/any/path/"))
        response = client.receive()
    assert response["status"] == 200
    assert response["content"] == b"Hello world! You asked for /any/path/"
    assert not response.get("more_content")


# -- Echo --------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["s000_echo", "s001_echo"])
def test_echo(seed_layer, example):
    with routing(example):
        client = WSClient()
        connect(client)  # no connect consumer: the default one accepts
        say(client, "hello world")
        assert client.receive(json=False) == "hello world"


# -- Groups ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["s000_groups", "s001_groups"])
def test_groups_chat(seed_layer, example):
    with routing(example):
        first, second = WSClient(), WSClient()
        connect(first)  # 000 accepts explicitly, 001 relies on the default accept
        connect(second)
        say(first, "hello world")
        assert texts(first) == texts(second) == ["[user] hello world"]
        leave(first)
        say(second, "anyone?")
        assert texts(first) == []
        assert texts(second) == ["[user] anyone?"]


def test_groups_first_step_joins_and_leaves(seed_layer):
    with routing("s001_groups_connect"):
        client = WSClient()
        connect(client)
        assert seed_layer.group_channels("chat") == [client.reply_channel]
        leave(client)
        assert seed_layer.group_channels("chat") == []


# -- Persisting data -----------------------------------------------------------------------


@pytest.mark.parametrize("example", ["s000_persisting", "s001_persisting"])
def test_rooms_from_the_channel_session(seed_layer, example):
    with routing(example):
        lobby, lobby2, kitchen = WSClient(), WSClient(), WSClient()
        connect(lobby, "/lobby/")
        connect(lobby2, "/lobby/")
        connect(kitchen, "/kitchen/")
        say(lobby, "hi lobby", "/lobby/")
        assert texts(lobby) == texts(lobby2) == ["hi lobby"]
        assert texts(kitchen) == []
        assert session_exists(lobby)
        leave(lobby, "/lobby/")
        assert not session_exists(lobby)  # deleted after the disconnect consumer
        say(lobby2, "still here", "/lobby/")
        assert texts(lobby) == [] and texts(lobby2) == ["still here"]


# -- Authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["s000_auth", "s001_auth_fixed"])
def test_rooms_by_first_letter_of_the_username(seed_layer, users, example):
    with routing(example):
        ada, alan, bob = WSClient(), WSClient(), WSClient()
        for client, name in ((ada, "ada"), (alan, "alan"), (bob, "bob")):
            assert client.login(username=name, password="pw-" + name)
            connect(client)
        say(ada, "hello a-people")
        assert texts(ada) == texts(alan) == ["hello a-people"]
        assert texts(bob) == []
        leave(alan)
        say(ada, "alan left")
        assert texts(alan) == [] and texts(ada) == ["alan left"]


def test_auth_seed_with_an_anonymous_user_fails_in_the_consumer(seed_layer, caplog):
    """``message.user.username[0]`` fails for AnonymousUser; the worker logs it and the
    socket is never accepted."""
    with routing("s000_auth"):
        anonymous = WSClient(raise_consumer_exceptions=False)
        result = anonymous.send_and_consume("websocket.connect", path="/", check_accept=False)
    assert result.outcome.value == "failed" and isinstance(result.error, IndexError)
    assert "Consumer tests.seedapp.s000_auth.consumers.ws_add failed" in caplog.text
    # The accept was sent before the failing line; the worker flushes it, as 1.x did.
    assert anonymous.receive() == {"accept": True}


def test_seed_001_auth_as_written_stops_the_worker_at_start_up():
    sys.modules.pop(f"{SEEDS}.s001_auth.consumers", None)
    with pytest.raises(ImproperlyConfigured,
                       match="NameError: name 'channel_session_user_from_http' is not defined"):
        Router(f"{SEEDS}.s001_auth.routing.channel_routing")


# -- Routing ---------------------------------------------------------------------------------


def test_routing_with_include_and_filters(seed_layer):
    with apply_routes(f"{SEEDS}.s000_routing.routing.routing"):
        poll = Client()
        poll.send_and_consume("http.request", http_request("/poll/", "POST"))
        assert poll.receive() == {"status": 200, "headers": [], "content": b"polled"}
        view = Client()  # GET /poll/ is not routed: Django's views answer (no such URL)
        view.send_and_consume("http.request", http_request("/poll/", "GET"))
        assert view.receive()["status"] == 404
        room = WSClient()
        connect(room, "/chat/lobby/")
        assert seed_layer.group_channels("chat-lobby") == [room.reply_channel]
        other = WSClient()
        connect(other, "/chat/not-a-room/")  # no match: the default consumer accepts
        assert seed_layer.group_channels("chat-not-a-room") == []
        leave(room, "/chat/lobby/")
        assert seed_layer.group_channels("chat-lobby") == []


# -- Models ------------------------------------------------------------------------------------


def test_models_corrected_chat_goes_through_the_orm(seed_layer):
    with routing("s000_models_fixed"):
        ada, bob, kitchen = WSClient(), WSClient(), WSClient()
        connect(ada, "/lobby/")
        connect(bob, "/lobby/")
        connect(kitchen, "/kitchen/")
        say(ada, "hello", "/lobby/")
        assert texts(ada) == []  # not yet: the chat-messages consumer broadcasts
        ada.consume("chat-messages")
        assert texts(ada) == texts(bob) == ["hello"]
        assert texts(kitchen) == []
        leave(bob, "/lobby/")
    assert list(ChatMessage.objects.values_list("room", "message")) == [("lobby", "hello")]


def test_models_seed_000_as_written_logs_and_keeps_serving(seed_layer, caplog):
    """``Group`` is never imported: connect fails, the ORM save still happens, and the
    worker serves the next message."""
    with routing("s000_models"):
        client = WSClient(raise_consumer_exceptions=False)
        result = client.send_and_consume("websocket.connect", path="/lobby/", check_accept=False)
        assert isinstance(result.error, NameError)
        assert client.receive() is None  # failed before answering: the socket is not accepted
        say(client, "hello", "/lobby/")  # the room was saved before the failure
        result = client.consume("chat-messages")
        assert isinstance(result.error, NameError) and "'Group'" in str(result.error)
        say(client, "still served", "/lobby/")
        assert client.consume("chat-messages").outcome.value == "failed"
    assert list(ChatMessage.objects.values_list("room", "message")) == [
        ("lobby", "hello"), ("lobby", "still served")]
    assert caplog.text.count("NameError: name 'Group' is not defined") == 3


def test_models_seed_001_as_written_logs_and_keeps_serving(seed_layer, caplog):
    """``room``, ``Group``, ``channel_session[...]`` and ``content`` are undefined or wrong;
    each consumer fails, is logged, and the worker goes on."""
    with routing("s001_models"):
        client = WSClient(raise_consumer_exceptions=False)
        assert isinstance(client.send_and_consume("websocket.connect", path="/lobby/",
                                                  check_accept=False).error, NameError)
        result = client.send_and_consume("websocket.receive", text="hi", path="/lobby/")
        assert isinstance(result.error, TypeError)  # channel_session['room']
        bot = Client(raise_consumer_exceptions=False)
        result = bot.send_and_consume("chat-messages", {"room": "lobby", "message": "beep"})
        assert isinstance(result.error, NameError)
        assert ChatMessage.objects.filter(room="lobby", message="beep").exists()
        leave(client, "/lobby/")  # the disconnect consumer works: the room is in the session
    assert "is not subscriptable" in caplog.text


# -- Ordering --------------------------------------------------------------------------------


def test_seed_000_ordering_as_written_stops_the_worker_at_start_up(tmp_path, monkeypatch):
    """The seed's last line lacks a ')': routing to it fails at start-up, naming the error."""
    verbatim = Path(__file__).parents[1] / "seedapp" / "s000_ordering" / "verbatim.py.txt"
    (tmp_path / "seed000_ordering.py").write_text(verbatim.read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImproperlyConfigured, match="SyntaxError"):
        Router({"websocket.connect": "seed000_ordering.ws_add"})


@pytest.mark.parametrize("example", ["s000_ordering", "s001_ordering"])
def test_slight_ordering_username_chat(seed_layer, users, example):
    with routing(example):
        ada, alan = WSClient(ordered=True), WSClient(ordered=True)
        for client, name in ((ada, "ada"), (alan, "alan")):
            client.force_login(users[name])
            connect(client)  # ws_add never accepts: the worker's auto-accept does
        messages = [ada.prepare("websocket.receive", text=f"m{n}", path="/chat/")
                    for n in (1, 2)]
        for content in reversed(messages):
            seed_layer.send("websocket.receive", content)
        while ada.consume("websocket.receive", fail_on_none=False):
            pass
        assert texts(alan) == ["m2", "m1"]  # slight: only the connect comes first
        leave(alan)
        say(ada, "bye")
        assert texts(alan) == []


def test_strict_ordering_fragment(seed_layer):

    with apply_routes([route("websocket.receive", strict_ws_message)]):
        client = WSClient(ordered=True)
        connect(client)
        prepared = [client.prepare("websocket.receive", text=str(n)) for n in range(3)]
        for content in reversed(prepared):
            seed_layer.send("websocket.receive", content)
        consumed = 0
        while client.consume("websocket.receive", fail_on_none=False):
            consumed += 1
    assert consumed == 5  # three runs, plus the two early messages released in turn
    assert session_for_reply_channel(client.reply_channel)[ORDER_KEY] == 4
