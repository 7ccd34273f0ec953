"""Data binding through the Redis layer on a real redis-server, with real transactions."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from channels_classic.asgi import ChannelLayerWrapper
from channels_classic.layers.redis import RedisChannelLayer
from channels_classic.routing import route_class
from channels_classic.test import WSClient, use_channel_layers
from tests.bindingapp.bindings import Demultiplexer
from tests.bindingapp.models import IntegerValue

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def install(url: str, request: pytest.FixtureRequest, **config) -> ChannelLayerWrapper:
    raw = RedisChannelLayer(hosts=[url], receive_timeout=0.2, **config)
    request.addfinalizer(raw.close)
    wrapper = ChannelLayerWrapper(raw, "default", [route_class(Demultiplexer, path=r"^/b/$")])
    context = use_channel_layers({"default": wrapper})
    context.__enter__()
    request.addfinalizer(lambda: context.__exit__(None, None, None))
    return wrapper


def test_round_trip_and_commit_semantics_through_redis(redis_url, request):
    install(redis_url, request)
    client = WSClient()
    client.send_and_consume("websocket.connect", path="/b/")
    client.send_and_consume(
        "websocket.receive", path="/b/",
        text={"stream": "intval", "payload": {"action": "create",
                                              "data": {"name": "r", "value": 1}}},
    )
    value = IntegerValue.objects.get(name="r")
    assert client.receive() == {
        "stream": "intval",
        "payload": {"action": "create", "pk": value.pk, "data": {"name": "r", "value": 1},
                    "model": "bindingapp.integervalue"},
    }

    # A change made outside any consumer, in a transaction: sent when it commits.
    with transaction.atomic():
        value.value = 2
        value.save()
        assert client.receive() is None
    assert client.receive()["payload"]["data"] == {"name": "r", "value": 2}

    # Rolled back: nothing reaches Redis.
    with pytest.raises(RuntimeError), transaction.atomic():
        value.value = 3
        value.save()
        raise RuntimeError("abort")
    assert client.receive() is None
    value.refresh_from_db()
    assert value.value == 2


def test_a_layer_outage_after_commit_is_logged_not_raised(redis_factory, request, caplog):
    server = redis_factory()
    install(server.url, request)
    client = WSClient()
    client.join_group("intval-updates")
    server.stop()
    caplog.set_level(logging.ERROR, "channels_classic.binding")
    value = IntegerValue.objects.create(name="down", value=0)  # the save itself succeeds
    assert IntegerValue.objects.filter(pk=value.pk).exists()
    [record] = [r for r in caplog.records if r.name == "channels_classic.binding"]
    assert "could not send a change of bindingapp.integervalue" in record.getMessage()
    assert "group intval-updates" in record.getMessage()
    server.start()  # an empty Redis: the group membership is gone with the old data
    client.join_group("intval-updates")
    value.value = -1
    value.save()
    frame = client.receive()
    assert frame["payload"]["data"] == {"name": "down", "value": -1}
