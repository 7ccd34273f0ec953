"""channels_classic.sessions: channel sessions, HTTP sessions and their decorators."""

from __future__ import annotations

import threading
from importlib import import_module

import pytest
from django.contrib.sessions.backends.base import CreateError

from channels_classic.exceptions import ConsumeLater
from channels_classic.message import Message
from channels_classic.sessions import (
    ChannelSessionEngineError,
    channel_and_http_session,
    channel_session,
    channel_session_key,
    http_session,
    http_session_key,
    session_for_reply_channel,
)

REPLY = "interface.abc!conn1"


def message(channel="websocket.receive", layer=None, **content):
    content.setdefault("reply_channel", REPLY)
    return Message(content, channel, layer)


def stored(reply=REPLY):
    """What the session store holds for ``reply`` right now (a fresh load)."""
    return dict(session_for_reply_channel(reply).items())


def exists(reply=REPLY):
    store = session_for_reply_channel(reply)
    return store.exists(channel_session_key(reply))


ENGINES = [
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
    "django.contrib.sessions.backends.file",
]


@pytest.fixture(params=ENGINES, ids=lambda path: path.rsplit(".", 1)[1])
def engine(request, settings, tmp_path, db):
    """Every server-side session engine Django ships."""
    settings.SESSION_ENGINE = request.param
    settings.SESSION_FILE_PATH = str(tmp_path)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                    "LOCATION": f"sessions-{request.param}"}
    }
    from django.core.cache import cache

    cache.clear()
    return request.param


def test_key_is_derived_from_the_reply_channel():
    key = channel_session_key(REPLY)
    assert key.startswith("chn") and len(key) == 32
    assert key == channel_session_key(REPLY)
    assert key != channel_session_key(REPLY + "x")


def test_round_trip_on_every_engine(engine):
    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    @channel_session
    def receive(message):
        return message.channel_session["room"]

    assert not exists()
    connect(message("websocket.connect"))
    assert stored() == {"room": "lobby"}
    assert receive(message()) == "lobby"


def test_deleted_after_the_disconnect_consumer_ran(engine):
    seen = {}

    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    @channel_session
    def disconnect(message):
        seen["room"] = message.channel_session["room"]  # still there while it runs

    connect(message("websocket.connect"))
    disconnect(message("websocket.disconnect", code=1000))
    assert seen == {"room": "lobby"}
    assert not exists()


def test_deleted_even_when_the_disconnect_consumer_fails(cache_sessions):
    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    @channel_session
    def disconnect(message):
        raise RuntimeError("bug in the disconnect consumer")

    connect(message("websocket.connect"))
    with pytest.raises(RuntimeError):
        disconnect(message("websocket.disconnect"))
    assert not exists()


def test_a_late_consumer_does_not_bring_a_deleted_session_back(cache_sessions):
    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    late = message()

    @channel_session
    def slow_receive(message):
        # the socket disconnects while this consumer runs
        channel_session(lambda m: None)(Message({"reply_channel": REPLY},
                                                "websocket.disconnect", None))
        message.channel_session["seen"] = True

    connect(message("websocket.connect"))
    slow_receive(late)
    assert not exists()


def test_not_written_when_unchanged_or_empty(cache_sessions):
    @channel_session
    def reader(message):
        return message.channel_session.get("room")

    @channel_session
    def set_and_unset(message):
        message.channel_session["x"] = 1
        del message.channel_session["x"]

    assert reader(message()) is None
    set_and_unset(message())
    assert not exists()


def test_saved_when_the_consumer_raises_but_not_on_consume_later(cache_sessions):
    @channel_session
    def failing(message):
        message.channel_session["before"] = "error"
        raise KeyError("boom")

    @channel_session
    def later(message):
        message.channel_session["later"] = True
        raise ConsumeLater()

    with pytest.raises(KeyError):
        failing(message())
    assert stored() == {"before": "error"}
    with pytest.raises(ConsumeLater):
        later(message())
    assert stored() == {"before": "error"}


def test_concurrent_first_writes_merge_instead_of_failing(engine):
    """Two consumers of one new connection both find no session; neither retries."""
    first, second = message("websocket.connect"), message()
    done = []

    @channel_session
    def write_a(message):
        message.channel_session["a"] = 1
        # the other consumer runs and creates the session meanwhile
        write_b(second)
        done.append("a")

    @channel_session
    def write_b(message):
        message.channel_session["b"] = 2
        done.append("b")

    write_a(first)
    assert done == ["b", "a"]
    assert stored() == {"a": 1, "b": 2}
    assert first.channel_session["b"] == 2  # the consumer's store mirrors the merge


def test_concurrent_create_applies_this_consumers_changes_on_top(cache_sessions):
    """The later writer wins on the keys it set; keys only the other one set survive."""
    late = message()

    @channel_session
    def early_writer(message):
        message.channel_session.update({"x": 1, "shared": "early"})

    @channel_session
    def late_writer(message):
        message.channel_session.update({"shared": "late", "y": 2})
        early_writer(Message({"reply_channel": REPLY}, "websocket.receive", None))

    late_writer(late)
    assert stored() == {"x": 1, "shared": "late", "y": 2}


def test_threads_racing_on_one_new_session_never_raise(cache_sessions):
    barrier = threading.Barrier(6)
    errors = []

    @channel_session
    def consumer(message, index):
        message.channel_session[f"k{index}"] = index
        barrier.wait(timeout=5)  # everyone loaded the (missing) session before anyone saves

    def run(index):
        try:
            consumer(message(), index)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    data = stored()
    assert data and set(data) <= {f"k{index}" for index in range(6)}


def test_create_error_is_not_raised_by_the_store_api(cache_sessions):
    # The engine itself does raise on a second create; the decorator is what absorbs it.
    store_a = session_for_reply_channel(REPLY)
    store_b = session_for_reply_channel(REPLY)
    store_a["a"] = 1
    store_a.save(must_create=True)
    store_b["b"] = 1
    with pytest.raises(CreateError):
        store_b.save(must_create=True)


def test_channel_session_engine_setting_wins(settings, cache_sessions, db):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.CHANNEL_SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    store = session_for_reply_channel(REPLY)
    assert type(store).__module__ == "django.contrib.sessions.backends.cache"


def test_signed_cookies_are_refused_clearly(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

    @channel_session
    def consumer(message):
        pass  # pragma: no cover - never reached

    with pytest.raises(ChannelSessionEngineError, match="CHANNEL_SESSION_ENGINE") as info:
        consumer(message())
    assert isinstance(info.value, ValueError)  # what 1.x raised


def test_works_on_methods(cache_sessions):
    class Consumer:
        @channel_session
        def handle(self, message):
            message.channel_session["via"] = "method"

    Consumer().handle(message())
    assert stored() == {"via": "method"}


def test_needs_a_message_among_the_first_two_arguments(cache_sessions):
    @channel_session
    def consumer(a, b, message):
        pass  # pragma: no cover - never reached

    with pytest.raises(TypeError, match="first or second positional argument"):
        consumer(1, 2, message())


def test_needs_a_reply_channel(cache_sessions):
    @channel_session
    def consumer(message):
        pass  # pragma: no cover - never reached

    with pytest.raises(ValueError, match="needs a reply_channel"):
        consumer(Message({"x": 1}, "custom", None))


def test_nested_decorators_share_one_session(cache_sessions):
    @channel_session
    def inner(message):
        message.channel_session["inner"] = True
        return message.channel_session

    @channel_session
    def outer(message):
        session = inner(message)
        assert session is message.channel_session
        message.channel_session["outer"] = True

    outer(message())
    assert stored() == {"inner": True, "outer": True}


# -- HTTP sessions ---------------------------------------------------------------------------


def http_store(**data):
    store = import_module("django.contrib.sessions.backends.cache").SessionStore()
    store.update(data)
    store.save()
    return store


def connect_with(headers=(), query=b""):
    return message("websocket.connect", headers=[list(pair) for pair in headers],
                   query_string=query, path="/")


def test_http_session_from_the_cookie(cache_sessions):
    store = http_store(name="ada")
    seen = {}

    @http_session
    def consumer(message):
        seen["name"] = message.http_session["name"]
        message.http_session["visits"] = 1

    cookie = f"other=1; sessionid={store.session_key}".encode()
    consumer(connect_with([(b"cookie", cookie)]))
    assert seen == {"name": "ada"}
    fresh = import_module("django.contrib.sessions.backends.cache").SessionStore(
        session_key=store.session_key)
    assert fresh["visits"] == 1


def test_http_session_accepts_1x_dict_headers(cache_sessions):
    store = http_store(name="ada")

    @http_session
    def consumer(message):
        return message.http_session["name"]

    msg = message("websocket.connect", headers={"cookie": f"sessionid={store.session_key}"})
    assert consumer(msg) == "ada"


def test_http_session_key_from_the_query_string_on_connect_only(cache_sessions, settings):
    key = http_store(name="ada").session_key
    on_connect = connect_with(query=f"room=1&session_key={key}".encode())
    assert http_session_key(on_connect) == key
    on_request = message("http.request", query_string=f"session_key={key}".encode(),
                         headers=[])
    assert http_session_key(on_request) is None
    settings.CHANNELS_SESSION_KEY_FROM_QUERY_STRING = False
    assert http_session_key(on_connect) is None


def test_cookie_wins_over_the_query_string(cache_sessions):
    msg = connect_with([(b"cookie", b"sessionid=fromcookie1")], b"session_key=fromquery1")
    assert http_session_key(msg) == "fromcookie1"


def test_no_key_gives_none_and_creates_nothing(cache_sessions):
    @http_session
    def consumer(message):
        return message.http_session

    assert consumer(connect_with()) is None
    assert consumer(message()) is None  # receive messages carry no cookies


def test_unknown_key_is_never_created(cache_sessions):
    @http_session
    def consumer(message):
        message.http_session["x"] = 1  # a forged or expired key

    consumer(connect_with([(b"cookie", b"sessionid=doesnotexist123")]))
    engine = import_module("django.contrib.sessions.backends.cache")
    assert not engine.SessionStore().exists("doesnotexist123")


def test_channel_and_http_session_rehydrates_on_later_messages(cache_sessions):
    store = http_store(name="ada")
    seen = []

    @channel_and_http_session
    def consumer(message):
        seen.append(message.http_session["name"] if message.http_session else None)
        message.http_session["count"] = message.http_session.get("count", 0) + 1

    consumer(connect_with([(b"cookie", f"sessionid={store.session_key}".encode())]))
    consumer(message("websocket.receive", text="hi"))
    assert seen == ["ada", "ada"]
    assert stored()["sessionid"] == store.session_key
    fresh = import_module("django.contrib.sessions.backends.cache").SessionStore(
        session_key=store.session_key)
    assert fresh["count"] == 2


def test_channel_and_http_session_without_http_session(cache_sessions):
    @channel_and_http_session
    def consumer(message):
        return message.http_session

    assert consumer(connect_with()) is None
    assert consumer(message()) is None
