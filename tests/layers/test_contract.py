"""The channel-layer contract, run against every layer (in-memory, Redis, 3 Redis shards).

Covers the ASGI 1.0 rules and asgiref 1.1.2's conformance list (inventory §1) plus the
channels_classic extensions (fetch, attempts, send_many, asyncio twins, statistics).  Time is
an injected fake clock; nothing here sleeps to let messages expire.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from channels_classic.layers import (
    BaseChannelLayer,
    ChannelFull,
    Delivery,
    LayerUnavailable,
    MessageTooLarge,
)
from tests.layers.conftest import FakeClock
from tests.layers.helpers import run_async

MakeLayer = Callable[..., BaseChannelLayer]


def drain(layer: BaseChannelLayer, channels: list[str], limit: int = 10_000) -> list[Delivery]:
    """Everything currently receivable on ``channels`` (non-blocking)."""
    got: list[Delivery] = []
    while len(got) < limit:
        batch = layer.fetch(channels, max_messages=100)
        if not batch:
            return got
        got.extend(batch)
    return got


# -- send / receive ------------------------------------------------------------------------


def test_send_then_receive(layer: BaseChannelLayer) -> None:
    layer.send("sr_test", {"value": "blue"})
    layer.send("sr_test", {"value": "green"})
    layer.send("sr_test2", {"value": "red"})
    received = [layer.receive(["sr_test", "sr_test2"]) for _ in range(3)]
    assert sorted(message["value"] for _, message in received) == ["blue", "green", "red"]
    assert {channel for channel, _ in received} == {"sr_test", "sr_test2"}
    assert layer.receive(["sr_test", "sr_test2"]) == (None, None)


def test_single_reader_channel_keeps_order(layer: BaseChannelLayer) -> None:
    channel = layer.new_channel("reply?")
    for index in range(20):
        layer.send(channel, {"index": index})
    received = [layer.receive([channel])[1]["index"] for _ in range(20)]
    assert received == list(range(20))


def test_process_local_channels_are_received_by_prefix(layer: BaseChannelLayer) -> None:
    layer.send("foo.bar!abc", {"n": 1})
    layer.send("foo.bar!def", {"n": 2})
    layer.send("other!x", {"n": 3})
    first = layer.receive(["foo.bar!"])
    second = layer.receive(["foo.bar!"])
    assert first == ("foo.bar!abc", {"n": 1})
    assert second == ("foo.bar!def", {"n": 2})
    assert layer.receive(["foo.bar!"]) == (None, None)
    assert layer.receive(["other!"]) == ("other!x", {"n": 3})


def test_process_local_name_is_not_inside_the_message(layer: BaseChannelLayer) -> None:
    layer.send("proc!local", {"text": "hi"})
    channel, message = layer.receive(["proc!"])
    assert channel == "proc!local"
    assert message == {"text": "hi"}


def test_receive_with_full_process_local_name_raises(layer: BaseChannelLayer) -> None:
    with pytest.raises(TypeError, match="process-local prefix 'foo!'"):
        layer.receive(["foo!bar"])


def test_send_to_bare_process_local_prefix_raises(layer: BaseChannelLayer) -> None:
    with pytest.raises(TypeError, match="local part"):
        layer.send("foo!", {"x": 1})


def test_new_channel_single_reader(layer: BaseChannelLayer) -> None:
    first = layer.new_channel("test.foo?")
    second = layer.new_channel("test.foo?")
    assert first.startswith("test.foo?") and len(first) > len("test.foo?")
    assert first != second
    layer.send(first, {"value": "blue"})
    assert layer.receive([first]) == (first, {"value": "blue"})


@pytest.mark.parametrize("pattern", ["test!", "test.foo", "test", ""])
def test_new_channel_rejects_non_single_reader_patterns(
    layer: BaseChannelLayer, pattern: str
) -> None:
    with pytest.raises(TypeError):
        layer.new_channel(pattern)


def test_names_of_255_characters_work(layer: BaseChannelLayer) -> None:
    for name in ("a" * 100, "b" * 255, "c" * 120 + "!" + "d" * 100, "e" * 150 + "?" + "f" * 50):
        layer.send(name, {"name": name})
        receive_name = name.split("!")[0] + "!" if "!" in name else name
        assert layer.receive([receive_name]) == (name, {"name": name})
    group = "g" * 255
    layer.group_add(group, "h" * 255)
    assert layer.group_channels(group) == ["h" * 255]


# -- message contents ------------------------------------------------------------------------


ROUND_TRIP = {
    "bytes": b"\x00\x01\xff and NUL \x00 inside",
    "text": "emoji \U0001f600 and NUL \x00 and accents \u00e9",
    "empty_bytes": b"",
    "empty_text": "",
    "int_max": 2**63 - 1,
    "int_min": -(2**63),
    "float": 1.5e300,
    "bool": True,
    "none": None,
    "nested": {"list": [1, b"two", "three", [4.0, {"five": [None, False]}]], "dict": {}},
    "headers": [[b"host", b"example.com"], [b"x-bin", b"\x00\xff"]],
}


def test_values_round_trip_with_bytes_and_str_distinct(layer: BaseChannelLayer) -> None:
    layer.send("types", ROUND_TRIP)
    channel, message = layer.receive(["types"])
    assert channel == "types"
    assert message == ROUND_TRIP
    assert type(message["bytes"]) is bytes
    assert type(message["text"]) is str
    assert type(message["headers"][0][0]) is bytes


def test_tuples_arrive_as_lists(layer: BaseChannelLayer) -> None:
    layer.send("tuples", {"pair": (1, (b"a", "b")), "headers": ((b"k", b"v"),)})
    _, message = layer.receive(["tuples"])
    assert message == {"pair": [1, [b"a", "b"]], "headers": [[b"k", b"v"]]}
    assert type(message["pair"]) is list and type(message["pair"][1]) is list


def test_mutating_a_message_after_send_does_not_change_it(layer: BaseChannelLayer) -> None:
    message: dict[str, Any] = {"value": ["blue"], "inner": {"n": 1}}
    layer.send("mutation", message)
    message["value"].append("red")
    message["inner"]["n"] = 2
    message["extra"] = True
    assert layer.receive(["mutation"]) == ("mutation", {"value": ["blue"], "inner": {"n": 1}})


def test_message_of_one_megabyte_is_accepted(layer: BaseChannelLayer) -> None:
    body = b"x" * 1_000_000
    layer.send("big", {"body": body})
    assert layer.receive(["big"]) == ("big", {"body": body})


def test_message_too_large(make_layer: MakeLayer) -> None:
    layer = make_layer(max_message_size=1000)
    layer.send("small", {"body": b"x" * 900})
    with pytest.raises(MessageTooLarge, match="max_message_size"):
        layer.send("small", {"body": b"x" * 2000})
    with pytest.raises(MessageTooLarge):
        layer.send_group("group", {"body": b"x" * 2000})
    assert layer.receive(["small"]) == ("small", {"body": b"x" * 900})
    assert layer.receive(["small"]) == (None, None)


# -- bad input ---------------------------------------------------------------------------------


BAD_CHANNEL_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("na\u00efve", id="non-ascii"),
    pytest.param("\u0661\u0662", id="unicode-digits"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param("ends.with?", id="question-mark-at-end"),
    pytest.param("two!bangs!", id="two-bangs"),
    pytest.param("a?b!c", id="both-separators"),
    pytest.param("has space", id="space"),
    pytest.param("colon:name", id="colon"),
    pytest.param("x" * 256, id="too-long"),
    pytest.param(None, id="none"),
    pytest.param(42, id="int"),
]


@pytest.mark.parametrize("name", BAD_CHANNEL_NAMES)
def test_invalid_channel_names_are_rejected(layer: BaseChannelLayer, name: Any) -> None:
    with pytest.raises(TypeError):
        layer.send(name, {"x": 1})
    with pytest.raises(TypeError):
        layer.receive([name])
    with pytest.raises(TypeError):
        layer.group_add("group", name)


@pytest.mark.parametrize(
    "group",
    [
        pytest.param("", id="empty"),
        pytest.param("a!b", id="bang"),
        pytest.param("a?b", id="question-mark"),
        pytest.param(b"group", id="bytes"),
        pytest.param("gr\u00fcppe", id="non-ascii"),
        pytest.param("g" * 256, id="too-long"),
    ],
)
def test_invalid_group_names_are_rejected(layer: BaseChannelLayer, group: Any) -> None:
    with pytest.raises(TypeError):
        layer.group_add(group, "channel")
    with pytest.raises(TypeError):
        layer.send_group(group, {"x": 1})
    with pytest.raises(TypeError):
        layer.group_discard(group, "channel")


def test_receive_needs_a_list_of_names(layer: BaseChannelLayer) -> None:
    with pytest.raises(TypeError, match="not a single name"):
        layer.receive("channel")
    with pytest.raises(ValueError, match="at least one"):
        layer.receive([])


@pytest.mark.parametrize("message", [[("a", 1)], "text", b"bytes", None, 3])
def test_non_dict_messages_are_rejected(layer: BaseChannelLayer, message: Any) -> None:
    with pytest.raises(TypeError, match="Messages must be dicts"):
        layer.send("channel", message)


@pytest.mark.parametrize(
    ("message", "exception", "path"),
    [
        pytest.param({"tags": {1, 2}}, TypeError, "message['tags']", id="set"),
        pytest.param({"obj": object()}, TypeError, "message['obj']", id="object"),
        pytest.param({"n": 2**63}, ValueError, "message['n']", id="int-above-int64"),
        pytest.param({"n": -(2**63) - 1}, ValueError, "message['n']", id="int-below-int64"),
        pytest.param({1: "x"}, TypeError, "message has a key of type int", id="int-key"),
        pytest.param(
            {"outer": [{"inner": {b"k": 1}}]}, TypeError, "message['outer'][0]['inner']",
            id="nested-bytes-key",
        ),
        pytest.param(
            {"a": [1, {"b": 1j}]}, TypeError, "message['a'][1]['b']", id="nested-complex"
        ),
    ],
)
def test_bad_values_name_the_offending_key(
    layer: BaseChannelLayer, message: dict[Any, Any], exception: type[Exception], path: str
) -> None:
    with pytest.raises(exception) as info:
        layer.send("channel", message)
    assert path in str(info.value)
    # The layer keeps working for everyone else.
    layer.send("channel", {"fine": True})
    assert layer.receive(["channel"]) == ("channel", {"fine": True})


def test_bad_values_are_rejected_by_send_group_before_sending(layer: BaseChannelLayer) -> None:
    layer.group_add("bad-values", "member")
    with pytest.raises(TypeError, match=r"message\['tags'\]"):
        layer.send_group("bad-values", {"tags": {1}})
    assert layer.receive(["member"]) == (None, None)


# -- exceptions and extensions -----------------------------------------------------------------


def test_exception_classes_are_layer_attributes(layer: BaseChannelLayer) -> None:
    assert layer.ChannelFull is ChannelFull
    assert layer.MessageTooLarge is MessageTooLarge
    assert layer.LayerUnavailable is LayerUnavailable
    assert issubclass(layer.ChannelFull, Exception)
    for extension in ("groups", "flush", "statistics", "asyncio", "async"):
        assert extension in layer.extensions


def test_receive_many_is_a_deprecated_alias(layer: BaseChannelLayer) -> None:
    layer.send("old", {"x": 1})
    with pytest.warns(DeprecationWarning, match="receive_many"):
        assert layer.receive_many(["old"]) == ("old", {"x": 1})


# -- expiry ------------------------------------------------------------------------------------


def test_messages_expire(make_layer: MakeLayer, clock: FakeClock) -> None:
    layer = make_layer(expiry=10)
    layer.send("expiry", {"n": 1})
    clock.advance(9)
    layer.send("expiry", {"n": 2})
    clock.advance(2)  # the first is 11 s old, the second 2 s
    assert layer.receive(["expiry"]) == ("expiry", {"n": 2})
    assert layer.receive(["expiry"]) == (None, None)


def test_expired_messages_are_never_delivered_by_blocking_receive(
    make_layer: MakeLayer, clock: FakeClock
) -> None:
    layer = make_layer(expiry=5)
    for index in range(10):
        layer.send("gone", {"n": index})
    layer.send("gone!x", {"n": "local"})
    clock.advance(6)
    assert layer.fetch(["gone", "gone!"], block=True, max_messages=20) == []


def test_capacity_counts_only_live_messages(make_layer: MakeLayer, clock: FakeClock) -> None:
    layer = make_layer(expiry=10, capacity=3)
    for index in range(3):
        layer.send("live", {"n": index})
    with pytest.raises(ChannelFull):
        layer.send("live", {"n": 3})
    clock.advance(11)
    for index in range(3):
        layer.send("live", {"n": 10 + index})
    assert sorted(d.content["n"] for d in drain(layer, ["live"])) == [10, 11, 12]


# -- capacity ----------------------------------------------------------------------------------


def test_capacity(make_layer: MakeLayer) -> None:
    layer = make_layer(capacity=5)
    for index in range(5):
        layer.send("cap", {"n": index})
    with pytest.raises(ChannelFull, match="'cap' is at capacity"):
        layer.send("cap", {"n": 5})
    assert layer.receive(["cap"])[0] == "cap"
    layer.send("cap", {"n": 6})
    with pytest.raises(ChannelFull):
        layer.send("cap", {"n": 7})
    assert len(drain(layer, ["cap"])) == 5


def test_process_local_channels_share_one_capacity(make_layer: MakeLayer) -> None:
    layer = make_layer(capacity=100, process_channel_capacity=3)
    layer.send("daphne.response!a", {"n": 1})
    layer.send("daphne.response!b", {"n": 2})
    layer.send("daphne.response!c", {"n": 3})
    with pytest.raises(ChannelFull):
        layer.send("daphne.response!d", {"n": 4})
    layer.send("other.process!a", {"n": 5})  # another prefix has its own capacity
    assert len(drain(layer, ["daphne.response!"])) == 3


def test_per_pattern_capacities_first_match_wins(make_layer: MakeLayer) -> None:
    layer = make_layer(
        capacity=10,
        channel_capacity=[
            ("http.request", 2),
            (re.compile(r"^websocket\..*$"), 3),
            ("http.*", 4),
            ("http.request", 50),  # never reached: the first match wins
        ],
    )
    assert layer.get_capacity("http.request") == 2
    assert layer.get_capacity("http.disconnect") == 4
    assert layer.get_capacity("websocket.receive") == 3
    assert layer.get_capacity("other") == 10
    for channel, limit in (("http.request", 2), ("websocket.connect", 3), ("http.body", 4),
                           ("other", 10)):
        for index in range(limit):
            layer.send(channel, {"n": index})
        with pytest.raises(ChannelFull):
            layer.send(channel, {"n": "over"})


def test_pattern_capacity_applies_to_process_local_prefix(make_layer: MakeLayer) -> None:
    layer = make_layer(channel_capacity={"daphne.response*": 2})
    layer.send("daphne.response.abc!x", {"n": 1})
    layer.send("daphne.response.abc!y", {"n": 2})
    with pytest.raises(ChannelFull):
        layer.send("daphne.response.abc!z", {"n": 3})


# -- groups ------------------------------------------------------------------------------------


def test_groups(layer: BaseChannelLayer) -> None:
    layer.group_add("tgroup", "tg_test")
    layer.group_add("tgroup", "tg_test2")
    layer.group_add("tgroup", "tg_test3")
    layer.group_discard("tgroup", "tg_test3")
    layer.send_group("tgroup", {"value": "orange"})
    assert layer.receive(["tg_test"]) == ("tg_test", {"value": "orange"})
    assert layer.receive(["tg_test2"]) == ("tg_test2", {"value": "orange"})
    assert layer.receive(["tg_test3"]) == (None, None)


def test_group_add_is_idempotent_and_discard_a_no_op(layer: BaseChannelLayer) -> None:
    layer.group_add("idem", "member")
    layer.group_add("idem", "member")
    layer.group_discard("idem", "never-added")
    layer.group_discard("no-such-group", "member")
    layer.send_group("idem", {"n": 1})
    assert layer.receive(["member"]) == ("member", {"n": 1})
    assert layer.receive(["member"]) == (None, None)
    assert layer.group_channels("idem") == ["member"]


def test_group_channels(layer: BaseChannelLayer) -> None:
    assert list(layer.group_channels("tgroup")) == []
    layer.group_add("tgroup", "tg_test")
    layer.group_add("tgroup", "tg_test2")
    layer.group_add("tgroup", "tg_test3!local")
    layer.group_discard("tgroup", "tg_test2")
    assert sorted(layer.group_channels("tgroup")) == ["tg_test", "tg_test3!local"]


def test_groups_of_process_local_channels(layer: BaseChannelLayer) -> None:
    layer.group_add("tgroup", "tg_test!a")
    layer.group_add("tgroup", "tg_test!b")
    layer.group_add("tgroup", "tg_other!c")
    layer.send_group("tgroup", {"value": "orange"})
    local = drain(layer, ["tg_test!"])
    assert sorted((d.channel, d.content["value"]) for d in local) == [
        ("tg_test!a", "orange"), ("tg_test!b", "orange"),
    ]
    assert layer.receive(["tg_other!"]) == ("tg_other!c", {"value": "orange"})


def test_group_membership_expires(make_layer: MakeLayer, clock: FakeClock) -> None:
    layer = make_layer(group_expiry=10, expiry=60)
    layer.group_add("expiring", "stale")
    layer.group_add("expiring", "fresh")
    clock.advance(6)
    layer.group_add("expiring", "fresh")  # re-adding refreshes the membership
    clock.advance(6)
    assert layer.group_channels("expiring") == ["fresh"]
    layer.send_group("expiring", {"n": 1})
    assert layer.receive(["stale"]) == (None, None)
    assert layer.receive(["fresh"]) == ("fresh", {"n": 1})


def test_send_group_never_raises_channel_full(make_layer: MakeLayer) -> None:
    layer = make_layer(capacity=1)
    layer.group_add("full", "busy")
    layer.group_add("full", "idle")
    layer.send("busy", {"n": "first"})
    layer.send_group("full", {"n": "group"})  # busy is full: skipped, not raised
    assert layer.receive(["busy"]) == ("busy", {"n": "first"})
    assert layer.receive(["busy"]) == (None, None)
    assert layer.receive(["idle"]) == ("idle", {"n": "group"})
    stats = layer.global_statistics()  # type: ignore[attr-defined]
    assert stats["channel_full_count"] >= 1


def test_send_group_to_many_members(layer: BaseChannelLayer) -> None:
    members = [f"member{index}" for index in range(50)]
    for member in members:
        layer.group_add("room", member)
    layer.send_group("room", {"text": "hello"})
    for member in members:
        assert layer.receive([member]) == (member, {"text": "hello"})


# -- flush -------------------------------------------------------------------------------------


def test_flush_removes_messages(layer: BaseChannelLayer) -> None:
    layer.send("fl_test", {"n": 1})
    layer.send("fl_test!a", {"n": 2})
    layer.flush()
    assert layer.receive(["fl_test", "fl_test!"]) == (None, None)


def test_flush_removes_groups(layer: BaseChannelLayer) -> None:
    layer.group_add("fl_group", "fl_test")
    layer.flush()
    assert list(layer.group_channels("fl_group")) == []
    layer.send_group("fl_group", {"n": 1})
    assert layer.receive(["fl_test"]) == (None, None)


# -- fetch, attempts, send_many ----------------------------------------------------------------


def test_attempts_round_trip_outside_the_message(layer: BaseChannelLayer) -> None:
    layer.send("retry", {"n": 1}, attempts=3)
    layer.send("retry!x", {"n": 2}, attempts=1)
    (delivery,) = layer.fetch(["retry"])
    assert delivery == Delivery("retry", {"n": 1}, 3)
    assert layer.fetch(["retry!"]) == [Delivery("retry!x", {"n": 2}, 1)]
    layer.send("retry", {"n": 3})
    assert layer.fetch(["retry"])[0].attempts == 0


@pytest.mark.parametrize("attempts", [-1, "1", 1.5, True])
def test_attempts_must_be_a_non_negative_int(layer: BaseChannelLayer, attempts: Any) -> None:
    with pytest.raises(ValueError, match="attempts"):
        layer.send("retry", {"n": 1}, attempts=attempts)


def test_fetch_batches_non_blocking(layer: BaseChannelLayer) -> None:
    for index in range(5):
        layer.send("batch", {"n": index})
    first = layer.fetch(["batch"], max_messages=3)
    second = layer.fetch(["batch"], max_messages=3)
    assert len(first) == 3 and len(second) == 2
    assert sorted(d.content["n"] for d in first + second) == [0, 1, 2, 3, 4]
    assert layer.fetch(["batch"], max_messages=3) == []


def test_fetch_batches_blocking(layer: BaseChannelLayer) -> None:
    channel = layer.new_channel("batch?")
    for index in range(5):
        layer.send(channel, {"n": index})
    first = layer.fetch([channel], block=True, max_messages=3)
    second = layer.fetch([channel], block=True, max_messages=3)
    assert [d.content["n"] for d in first] == [0, 1, 2]
    assert [d.content["n"] for d in second] == [3, 4]


def test_fetch_blocking_over_spread_channel_loses_nothing(layer: BaseChannelLayer) -> None:
    for index in range(7):
        layer.send("spread", {"n": index})
    got: list[int] = []
    for _ in range(20):
        batch = layer.fetch(["spread"], block=True, max_messages=3)
        assert len(batch) <= 3
        got.extend(d.content["n"] for d in batch)
        if len(got) == 7:
            break
    assert sorted(got) == list(range(7))


def test_fetch_rejects_bad_max_messages(layer: BaseChannelLayer) -> None:
    with pytest.raises(ValueError, match="max_messages"):
        layer.fetch(["x"], max_messages=0)


def test_blocking_receive_times_out_empty(make_layer: MakeLayer) -> None:
    layer = make_layer(receive_timeout=0.05)
    assert layer.receive(["nothing", "nothing!"], block=True) == (None, None)


def test_blocking_receive_wakes_when_another_thread_sends(make_layer: MakeLayer) -> None:
    # A long receive_timeout: the receive must return because of the send, not the timeout.
    layer = make_layer(receive_timeout=30)
    results: list[list[Delivery]] = []
    started = threading.Event()

    def receive() -> None:
        started.set()
        results.append(layer.fetch(["wake", "wake.proc!"], block=True))

    thread = threading.Thread(target=receive)
    begin = time.monotonic()
    thread.start()
    started.wait()
    time.sleep(0.1)  # let the receiver block first (this is the test's sender, not the layer)
    layer.send("wake.proc!conn", {"n": 1})
    thread.join(timeout=30)
    elapsed = time.monotonic() - begin
    assert results == [[Delivery("wake.proc!conn", {"n": 1}, 0)]]
    assert elapsed < 10, f"receive returned after {elapsed:.1f}s, not on the send"


def test_send_many_reports_each_item(make_layer: MakeLayer) -> None:
    layer = make_layer(capacity=2)
    results = layer.send_many([
        ("many", {"n": 1}),
        ("bad name", {"n": 2}),
        ("many", {"n": 3}),
        ("many", {"bad": {1}}),
        ("many", {"n": 4}),
        ("many!x", {"n": 5}),
    ])
    assert isinstance(results[1], TypeError)
    assert isinstance(results[3], TypeError)
    assert results[5] is None
    # Three valid sends to a channel of capacity 2: one is refused.  (Which one is only
    # defined on a single queue; a sharded layer pipelines to each shard at once.)
    outcomes = {n: results[i] for i, n in ((0, 1), (2, 3), (4, 4))}
    refused = [n for n, outcome in outcomes.items() if outcome is not None]
    assert len(refused) == 1 and isinstance(outcomes[refused[0]], ChannelFull)
    accepted = sorted(n for n, outcome in outcomes.items() if outcome is None)
    assert sorted(d.content["n"] for d in drain(layer, ["many"])) == accepted
    assert layer.fetch(["many!"]) == [Delivery("many!x", {"n": 5}, 0)]


def test_send_many_keeps_order_and_reports_full_on_one_queue(make_layer: MakeLayer) -> None:
    layer = make_layer(capacity=2)
    channel = layer.new_channel("ordered?")
    results = layer.send_many([(channel, {"n": n}) for n in range(4)])
    assert results[:2] == [None, None]
    assert all(isinstance(result, ChannelFull) for result in results[2:])
    assert [d.content["n"] for d in drain(layer, [channel])] == [0, 1]


# -- statistics --------------------------------------------------------------------------------


def test_statistics(make_layer: MakeLayer, clock: FakeClock) -> None:
    layer = make_layer(capacity=2)
    layer.send("stats", {"n": 1})
    clock.advance(3)
    layer.send("stats", {"n": 2})
    with pytest.raises(ChannelFull):
        layer.send("stats", {"n": 3})
    channel = layer.channel_statistics("stats")  # type: ignore[attr-defined]
    assert channel["messages_count"] == 2
    assert channel["channel_full_count"] == 1
    assert channel["messages_pending"] == 2
    assert channel["messages_max_age"] == pytest.approx(3, abs=0.01)
    total = layer.global_statistics()  # type: ignore[attr-defined]
    assert total["messages_count"] == 2
    assert total["channel_full_count"] == 1
    assert total["messages_pending"] == 2
    layer.receive(["stats"])
    assert layer.channel_statistics("stats")["messages_pending"] == 1  # type: ignore[attr-defined]


# -- asyncio twins -----------------------------------------------------------------------------


def test_sync_send_async_fetch_and_back(layer: BaseChannelLayer) -> None:
    layer.send("mixed", {"from": "sync", "b": b"\x00"})

    async def body() -> list[Delivery]:
        first = await layer.fetch_async(["mixed"])
        await layer.send_async("mixed!x", {"from": "async"})
        await layer.send_many_async([("mixed", {"n": 1}), ("mixed", {"n": 2})])
        return first

    assert run_async([layer], body) == [Delivery("mixed", {"from": "sync", "b": b"\x00"}, 0)]
    assert layer.receive(["mixed!"]) == ("mixed!x", {"from": "async"})
    assert sorted(d.content["n"] for d in drain(layer, ["mixed"])) == [1, 2]


def test_async_groups_and_batches(layer: BaseChannelLayer) -> None:
    async def body() -> tuple[list[Delivery], list[str]]:
        await layer.group_add_async("agroup", "proc!a")
        await layer.group_add_async("agroup", "proc!b")
        await layer.group_add_async("agroup", "proc!c")
        await layer.group_discard_async("agroup", "proc!c")
        await layer.send_group_async("agroup", {"text": "hi"})
        got = await layer.fetch_async(["proc!"], max_messages=10)
        return got, sorted(layer.group_channels("agroup"))

    got, members = run_async([layer], body)
    assert sorted(d.channel for d in got) == ["proc!a", "proc!b"]
    assert members == ["proc!a", "proc!b"]


def test_fetch_async_wakes_on_a_send_from_another_thread(make_layer: MakeLayer) -> None:
    layer = make_layer(receive_timeout=30)

    async def body() -> tuple[list[Delivery], float]:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        loop.call_later(0.1, lambda: threading.Thread(
            target=layer.send, args=("awake", {"n": 1})).start())
        got = await layer.fetch_async(["awake"])
        return got, loop.time() - begin

    got, elapsed = run_async([layer], body)
    assert got == [Delivery("awake", {"n": 1}, 0)]
    assert elapsed < 10


def test_fetch_async_times_out_empty(make_layer: MakeLayer) -> None:
    layer = make_layer(receive_timeout=0.05)
    assert run_async([layer], lambda: layer.fetch_async(["quiet"])) == []


def test_identity_is_stable_while_the_backend_lives(layer: BaseChannelLayer) -> None:
    first = layer.identity()
    assert first and first == layer.identity()
    assert run_async([layer], layer.identity_async) == first
