"""Channel, Group, Message and consumer atomicity (buffered sends)."""

from __future__ import annotations

import logging

import pytest

from channels_classic import Channel, Group
from channels_classic.exceptions import InvalidMessage
from channels_classic.layers import ChannelFull, InMemoryChannelLayer
from channels_classic.message import Message, consumer_scope


@pytest.fixture
def layer():
    return InMemoryChannelLayer()


def test_send_outside_consumer_is_immediate(layer):
    Channel("out", channel_layer=layer).send({"a": 1})
    assert layer.receive(["out"]) == ("out", {"a": 1})


def test_sends_inside_consumer_wait_for_the_end_and_keep_order(layer):
    reply = Channel("reply!abc", channel_layer=layer)
    layer.group_add("room", "reply!abc")
    with consumer_scope() as report:
        reply.send({"accept": True})
        Group("room", channel_layer=layer).send({"text": "joined"})
        reply.send({"text": "later"}, immediately=False)
        assert layer.receive(["reply!"]) == (None, None)
    assert report.sent == 3 and report.dropped == []
    assert "reply!abc" in report.touched
    got = [layer.receive(["reply!"])[1] for _ in range(3)]
    assert got == [{"accept": True}, {"text": "joined"}, {"text": "later"}]


def test_immediately_bypasses_the_buffer(layer):
    with consumer_scope():
        Channel("x", channel_layer=layer).send({"n": 1}, immediately=True)
        assert layer.receive(["x"]) == ("x", {"n": 1})


def test_buffered_send_is_a_copy(layer):
    content = {"list": [1]}
    with consumer_scope():
        Channel("x", channel_layer=layer).send(content)
        content["list"].append(2)
    assert layer.receive(["x"])[1] == {"list": [1]}


def test_non_dict_is_rejected_by_channel_and_group(layer):
    with pytest.raises(TypeError):
        Channel("x", channel_layer=layer).send("text")
    with pytest.raises(ValueError):
        Group("g", channel_layer=layer).send(["no"])
    with pytest.raises(InvalidMessage):
        Group("g", channel_layer=layer).send(None)


def test_flush_on_exception_and_full_channel_is_dropped_not_raised(layer, caplog):
    small = InMemoryChannelLayer(capacity=1)
    with pytest.raises(RuntimeError), consumer_scope(retry_time=0.05) as report:
        Channel("q", channel_layer=small).send({"n": 1})
        Channel("q", channel_layer=small).send({"n": 2})
        raise RuntimeError("consumer failed")
    assert report.sent == 1
    assert report.dropped and report.dropped[0][0] == "q"
    assert "ChannelFull" in report.dropped[0][1]
    assert any("Dropped a message for q" in r.message for r in caplog.records
               if r.levelno == logging.ERROR)


def test_send_outside_consumer_raises_channel_full():
    small = InMemoryChannelLayer(capacity=1)
    Channel("q", channel_layer=small).send({})
    with pytest.raises(ChannelFull):
        Channel("q", channel_layer=small).send({})


def test_message_is_dict_like(layer):
    message = Message({"reply_channel": "r!x", "text": "hi"}, "websocket.receive", layer, 2)
    assert message["text"] == "hi" and "text" in message and message.get("nope", 5) == 5
    assert message.reply_channel.name == "r!x"
    assert message.channel.name == "websocket.receive"
    assert message.attempts == 2
    copy = message.copy()
    copy["text"] = "changed"
    assert message["text"] == "hi"
    assert sorted(message.keys()) == ["reply_channel", "text"]


def test_bytes_names_are_decoded(layer):
    assert Channel(b"abc", channel_layer=layer).name == "abc"
    Group(b"grp", channel_layer=layer).add(b"abc")
    assert layer.group_channels("grp") == ["abc"]
