"""channels_classic.auth: message.user from HTTP and channel sessions."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from channels_classic.auth import (
    channel_and_http_session_user_from_http,
    channel_session_user,
    channel_session_user_from_http,
    http_session_user,
    transfer_user,
)
from channels_classic.routing import route
from channels_classic.sessions import session_for_reply_channel
from channels_classic.test import WSClient, apply_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password="lovelace-1815")


@pytest.fixture
def seen():
    return []


def session(**data):
    store = import_module("django.contrib.sessions.backends.db").SessionStore()
    store.update(data)
    return store


def test_transfer_user_copies_the_login():
    source = session(**{SESSION_KEY: "1", BACKEND_SESSION_KEY: "b", HASH_SESSION_KEY: "h"},
                     other="not copied")
    target = session()
    transfer_user(source, target)
    assert dict(target.items()) == {SESSION_KEY: "1", BACKEND_SESSION_KEY: "b",
                                    HASH_SESSION_KEY: "h"}


def test_transfer_user_without_a_login_copies_nothing():
    target = session(room="lobby")
    transfer_user(None, target)
    transfer_user(session(**{SESSION_KEY: "1"}), target)  # incomplete login
    assert dict(target.items()) == {"room": "lobby"}


def test_http_session_user(layer, ada, seen):
    @http_session_user
    def connect(message):
        seen.append((message.user.username, message.http_session is not None))

    with apply_routes([route("websocket.connect", connect)]):
        anonymous = WSClient()
        anonymous.send_and_consume("websocket.connect")
        client = WSClient()
        assert client.login(username="ada", password="lovelace-1815")
        client.send_and_consume("websocket.connect")
    assert seen == [("", False), ("ada", True)]


def test_login_with_wrong_credentials_fails(ada):
    client = WSClient()
    assert client.login(username="ada", password="wrong") is False
    assert client.get_cookies() == {}


def test_user_travels_from_http_to_channel_session(layer, ada, seen):
    @channel_session_user_from_http
    def connect(message):
        seen.append(("connect", message.user.username))

    @channel_session_user
    def receive(message):
        seen.append(("receive", message.user.username))

    with apply_routes([route("websocket.connect", connect),
                       route("websocket.receive", receive)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text="hi")
        stranger = WSClient()
        stranger.send_and_consume("websocket.receive", text="hi")
    assert seen == [("connect", "ada"), ("receive", "ada"), ("receive", "")]


def test_password_change_logs_the_socket_out_but_keeps_its_session(layer, ada, seen):
    @channel_session_user_from_http
    def connect(message):
        message.channel_session["room"] = "lobby"

    @channel_session_user
    def receive(message):
        seen.append((message.user.is_authenticated, message.channel_session.get("room")))

    with apply_routes([route("websocket.connect", connect),
                       route("websocket.receive", receive)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text="hi")
        ada.set_password("new-secret-2024")
        ada.save()
        client.send_and_consume("websocket.receive", text="hi")
        client.send_and_consume("websocket.receive", text="hi")
    assert seen == [(True, "lobby"), (False, "lobby"), (False, "lobby")]
    stored = dict(session_for_reply_channel(client.reply_channel).items())
    assert stored == {"room": "lobby"}  # the login is gone, the rest of the session is not


def test_channel_and_http_session_user_from_http(layer, ada, seen):
    @channel_and_http_session_user_from_http
    def connect(message):
        seen.append(message.user.username)
        message.http_session["socket"] = "opened"

    @channel_session_user
    def receive(message):
        seen.append(message.user.username)

    with apply_routes([route("websocket.connect", connect),
                       route("websocket.receive", receive)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
        client.send_and_consume("websocket.receive", text="hi")
    assert seen == ["ada", "ada"]
    key = client.get_cookies()["sessionid"]
    assert import_module("django.contrib.sessions.backends.db").SessionStore(
        session_key=key)["socket"] == "opened"


def test_auth_decorators_work_on_methods(layer, ada, seen):
    class Consumer:
        @channel_session_user_from_http
        def connect(self, message):
            seen.append(message.user.username)

    with apply_routes([route("websocket.connect", Consumer().connect)]):
        client = WSClient()
        client.force_login(ada)
        client.send_and_consume("websocket.connect")
    assert seen == ["ada"]
