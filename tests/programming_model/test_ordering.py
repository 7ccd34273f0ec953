"""enforce_ordering: strict and slight modes, the waiting room, failures, many workers."""

from __future__ import annotations

import logging
import random
import threading
import time

import pytest

from channels_classic import Group, channel_layers
from channels_classic.exceptions import ConsumeLater
from channels_classic.layers import Delivery
from channels_classic.routing import route
from channels_classic.sessions import (
    ABANDONED,
    MAX_WAITING,
    ORDER_KEY,
    Decision,
    channel_session,
    channel_session_key,
    decide,
    enforce_ordering,
    session_for_reply_channel,
    waiting_room_name,
)
from channels_classic.test import WSClient, apply_routes
from worker.dispatch import dispatch

WS_CHANNELS = ["websocket.connect", "websocket.receive", "websocket.disconnect"]


@pytest.mark.parametrize(
    ("order", "stored", "slight", "decision"),
    [
        (0, None, False, Decision.RUN_AND_ADVANCE),
        (1, None, False, Decision.RUN_AND_ADVANCE),  # connect ran undecorated
        (2, None, False, Decision.PARK),
        (3, 3, False, Decision.RUN_AND_ADVANCE),
        (5, 3, False, Decision.PARK),
        (2, 3, False, Decision.DUPLICATE),
        (0, 1, False, Decision.DUPLICATE),
        (0, None, True, Decision.RUN_AND_ADVANCE),
        (7, None, True, Decision.RUN),
        (7, 1, True, Decision.RUN),
        (0, 1, True, Decision.DUPLICATE),
        (9, ABANDONED, False, Decision.RUN),
        (0, ABANDONED, True, Decision.RUN),
        (4, "junk", False, Decision.PARK),  # a corrupt counter counts as missing
    ],
)
def test_decide(order, stored, slight, decision):
    assert decide(order, stored, slight) is decision


@pytest.fixture
def layer(any_layer):
    """Every ordering test runs on the in-memory layer and on Redis."""
    return any_layer


@pytest.fixture
def consumed():
    return []


def stored_order(client):
    return session_for_reply_channel(client.reply_channel).get(ORDER_KEY)


def send_out_of_order(layer, client, orders, channel="websocket.receive"):
    """Prepare messages numbered ``orders`` (in that order) and queue them in reverse."""
    prepared = {}
    for order in orders:
        content = client.prepare(channel, {"order": order, "text": str(order)}, path="/")
        prepared[order] = content
    for order in reversed(orders):
        layer.send(channel, prepared[order])


def drain(client, channel="websocket.receive"):
    while client.consume(channel, fail_on_none=False) is not None:
        pass


def test_strict_order_behind_an_undecorated_connect(layer, cache_sessions, consumed):
    """The 1.x trap: only the receive consumer is decorated.  It must not strand the socket."""

    @enforce_ordering
    def receive(message):
        consumed.append(message["order"])
        message.reply_channel.send({"text": message["text"]})

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient()
        client.send_and_consume("websocket.connect", {"order": 0}, path="/")
        send_out_of_order(layer, client, [1, 2, 3, 4, 5])
        drain(client)
    assert consumed == [1, 2, 3, 4, 5]
    assert [client.receive(json=False) for _ in range(5)] == ["1", "2", "3", "4", "5"]
    assert stored_order(client) == 6
    assert layer.fetch([waiting_room_name(client.reply_channel)]) == []


def test_strict_order_with_every_consumer_decorated(layer, cache_sessions, consumed):
    @enforce_ordering
    @channel_session
    def connect(message):
        consumed.append(("connect", message["order"]))
        message.channel_session["room"] = "lobby"

    @enforce_ordering
    @channel_session
    def receive(message):
        consumed.append((message.channel_session["room"], message["order"]))

    @enforce_ordering
    @channel_session
    def disconnect(message):
        consumed.append(("disconnect", message["order"]))

    routes = [route("websocket.connect", connect), route("websocket.receive", receive),
              route("websocket.disconnect", disconnect)]
    with apply_routes(routes):
        client = WSClient(ordered=True)
        client.send_and_consume("websocket.connect", path="/")
        messages = [client.prepare("websocket.receive", text="x") for _ in range(3)]
        final = client.prepare("websocket.disconnect", {"code": 1000})
        for content in [final, messages[2], messages[0], messages[1]]:
            layer.send("websocket.disconnect" if content is final else "websocket.receive",
                       content)
        assert client.consume("websocket.disconnect").outcome.value == "consumed"  # parked
        drain(client)
        drain(client, "websocket.disconnect")
    assert consumed == [("connect", 0), ("lobby", 1), ("lobby", 2), ("lobby", 3),
                        ("disconnect", 4)]
    # The disconnect ran last, and then the session went away.
    assert not session_for_reply_channel(client.reply_channel).exists(
        channel_session_key(client.reply_channel))


def test_a_failing_consumer_does_not_block_the_socket(layer, cache_sessions, consumed, caplog):
    @enforce_ordering
    def receive(message):
        consumed.append(message["order"])
        if message["order"] == 2:
            raise RuntimeError("consumer bug")

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient(raise_consumer_exceptions=False)
        send_out_of_order(layer, client, [1, 2, 3])
        drain(client)
    assert consumed == [1, 2, 3]
    assert "consumer bug" in caplog.text


def test_consume_later_runs_again_before_the_next(layer, cache_sessions, consumed):
    tries = []

    @enforce_ordering
    def receive(message):
        if message["order"] == 1 and not tries:
            tries.append(1)
            message.reply_channel.send({"text": "discarded"})
            raise ConsumeLater()
        consumed.append(message["order"])
        message.reply_channel.send({"text": str(message["order"])})

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient()
        send_out_of_order(layer, client, [1, 2])
        drain(client)
    assert consumed == [1, 2]
    assert [client.receive(json=False) for _ in range(2)] == ["1", "2"]
    assert client.receive() is None


def test_duplicates_are_dropped(layer, cache_sessions, consumed, caplog):
    @enforce_ordering
    def receive(message):
        consumed.append(message["order"])

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient()
        for _ in range(2):
            client.send_and_consume("websocket.receive", {"order": 1, "text": "x"})
    assert consumed == [1]
    assert "was consumed before" in caplog.text


def test_a_lost_message_closes_the_socket_and_the_rest_still_runs(
    layer, cache_sessions, consumed, caplog, monkeypatch
):
    """Message 1 never arrives: after the timeout the socket is closed and, crucially, the
    disconnect consumer still runs (group cleanup)."""
    now = [1000.0]
    monkeypatch.setattr("channels_classic.sessions._clock", lambda: now[0])

    @enforce_ordering
    def receive(message):
        consumed.append(message["order"])

    @enforce_ordering
    def disconnect(message):
        consumed.append(("disconnect", message["order"]))

    routes = [route("websocket.receive", receive), route("websocket.disconnect", disconnect)]
    with apply_routes(routes):
        client = WSClient()
        for order in (2, 3):
            client.send_and_consume("websocket.receive", {"order": order, "text": "x"})
        assert consumed == []
        assert client.receive() is None
        now[0] += 31  # CHANNELS_ORDERING_TIMEOUT defaults to 30 s
        with caplog.at_level(logging.ERROR, "channels_classic.sessions"):
            client.send_and_consume("websocket.disconnect", {"order": 4, "code": 1006})
        assert client.receive() == {"close": 1011}
        assert "message(s) 1..1 did not arrive within 30 s" in caplog.text
        drain(client)
        drain(client, "websocket.disconnect")
    assert sorted(consumed, key=str) == sorted([2, 3, ("disconnect", 4)], key=str)


def test_too_many_waiting_messages_give_up_ordering(layer, cache_sessions, consumed, caplog):
    @enforce_ordering
    def receive(message):
        consumed.append(message["order"])

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient()
        for order in range(2, MAX_WAITING + 3):  # message 1 is slow or lost
            client.send_and_consume("websocket.receive", {"order": order, "text": "x"})
        assert client.receive() == {"close": 1011}
        assert f"more than {MAX_WAITING} messages are waiting" in caplog.text
        assert stored_order(client) == ABANDONED
        drain(client)
        client.send_and_consume("websocket.receive", {"order": 1, "text": "late"})
    assert sorted(consumed) == list(range(1, MAX_WAITING + 3))


def test_slight_ordering_runs_connect_first_then_anything(layer, cache_sessions, consumed):
    @enforce_ordering(slight=True)
    @channel_session
    def connect(message):
        message.channel_session["room"] = "lobby"

    @enforce_ordering(slight=True)
    @channel_session
    def receive(message):
        consumed.append((message.channel_session["room"], message["order"]))

    with apply_routes([route("websocket.connect", connect),
                       route("websocket.receive", receive)]):
        client = WSClient()
        client.send_and_consume("websocket.connect", {"order": 0})
        send_out_of_order(layer, client, [1, 2, 3])
        drain(client)
    assert consumed == [("lobby", 3), ("lobby", 2), ("lobby", 1)]  # arrival order
    assert stored_order(client) == 1  # only the connect is counted


def test_messages_without_order_are_refused(layer, cache_sessions, caplog):
    @enforce_ordering
    def receive(message):
        raise AssertionError("must not run")  # pragma: no cover

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient(raise_consumer_exceptions=False)
        client.send_and_consume("websocket.receive", {"text": "no order"})
    assert "needs an integer 'order'" in caplog.text


def test_works_on_methods(layer, cache_sessions, consumed):
    class Consumer:
        @enforce_ordering
        def receive(self, message):
            consumed.append(message["order"])

    with apply_routes([route("websocket.receive", Consumer().receive)]):
        client = WSClient()
        send_out_of_order(layer, client, [1, 2])
        drain(client)
    assert consumed == [1, 2]


def run_workers(layer, router, threads, stop, errors):
    """``threads`` worker loops dispatching from the WebSocket channels until ``stop``."""

    def work():
        try:
            while not stop.is_set():
                for delivery in layer.fetch(WS_CHANNELS, block=True):
                    dispatch(delivery, layer, router)
        except BaseException as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def test_several_workers_consume_one_socket_in_order(layer, cache_sessions, monkeypatch):
    """Four worker threads, one socket, its messages queued shuffled: strict order holds,
    replies come back in order, the disconnect runs last and removes the session."""
    from channels_classic import sessions

    parked = []
    real_park = sessions._park

    def counting_park(message, order, expected):
        parked.append(order)
        real_park(message, order, expected)

    monkeypatch.setattr(sessions, "_park", counting_park)
    count = 40
    consumed: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    rng = random.Random(7)

    @enforce_ordering
    @channel_session
    def receive(message):
        with lock:
            consumed.append(message["order"])
        time.sleep(rng.random() / 500)  # widen the window for other workers to interfere
        message.reply_channel.send({"text": str(message["order"])})
        Group("room", channel_layer=message.channel_layer).send({"text": "fan-out"})

    @enforce_ordering
    @channel_session
    def disconnect(message):
        with lock:
            consumed.append(message["order"])
        stop.set()

    routes = [route("websocket.receive", receive), route("websocket.disconnect", disconnect)]
    with apply_routes(routes):
        client = WSClient(ordered=True)
        client.send_and_consume("websocket.connect", path="/")  # the handshake comes first
        contents = [("websocket.receive", client.prepare("websocket.receive", text="m"))
                    for _ in range(count)]
        contents.append(("websocket.disconnect",
                         client.prepare("websocket.disconnect", {"code": 1000})))
        rng.shuffle(contents)
        errors: list[BaseException] = []
        installed = channel_layers["default"]  # routed by apply_routes
        workers = run_workers(installed, installed.router, 4, stop, errors)
        for channel, content in contents:
            layer.send(channel, content)
        assert stop.wait(30), f"stuck after {consumed}"
        for worker in workers:
            worker.join(5)
    assert errors == []
    assert parked  # messages did arrive early and waited
    assert consumed == list(range(1, count + 2))
    replies = [client.receive(json=False) for _ in range(count)]
    assert replies == [str(order) for order in range(1, count + 1)]
    assert layer.fetch([waiting_room_name(client.reply_channel)]) == []
    assert not session_for_reply_channel(client.reply_channel).exists(
        channel_session_key(client.reply_channel))


def test_dispatch_of_a_parked_message_reports_consumed(layer, cache_sessions, db):
    """Parking is the consumer's business: the worker sees a normal, successful message."""

    @enforce_ordering
    def receive(message):
        raise AssertionError("must wait")  # pragma: no cover

    with apply_routes([route("websocket.receive", receive)]):
        client = WSClient()
        content = client.prepare("websocket.receive", {"order": 5, "text": "x"})
        installed = channel_layers["default"]
        result = dispatch(Delivery("websocket.receive", content), installed, installed.router)
    assert result.outcome.value == "consumed"
    [parked] = layer.fetch([waiting_room_name(client.reply_channel)])
    assert parked.content["order"] == 5 and parked.content["content"] == content
