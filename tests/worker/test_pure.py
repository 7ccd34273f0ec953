"""Pure helpers of the worker: channel selection, backoff, message checks, counters."""

from __future__ import annotations

import pytest

from worker.backoff import Backoff
from worker.channels import select_channels
from worker.dispatch import Outcome, Result
from worker.stats import COUNTER_NAMES, WorkerStats
from worker.validate import bad_request_reply, message_problem

CHANNELS = ["http.request", "websocket.connect", "websocket.receive", "chat.receive"]


def test_select_channels_only_and_exclude_globs():
    assert select_channels(CHANNELS) == sorted(CHANNELS)
    assert select_channels(CHANNELS, only=["websocket.*"]) == [
        "websocket.connect", "websocket.receive"]
    assert select_channels(CHANNELS, exclude=["websocket.*", "http.*"]) == ["chat.receive"]
    assert select_channels(CHANNELS, only=["*.receive"], exclude=["chat.*"]) == [
        "websocket.receive"]
    # Case-sensitive, as in 1.x.
    assert select_channels(CHANNELS, only=["HTTP.*"]) == []


def test_backoff_doubles_to_cap_and_resets():
    backoff = Backoff(first=0.1, cap=1.0, jitter=0.0)
    assert [round(backoff.next_delay(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_backoff_jitter_stays_in_range_and_never_overflows():
    backoff = Backoff(first=0.5, cap=4.0, jitter=0.5, rand=lambda: 1.0)
    assert backoff.next_delay() == pytest.approx(0.25)
    backoff.failures = 10_000
    assert backoff.next_delay() == pytest.approx(2.0)
    with pytest.raises(ValueError):
        Backoff(first=0)
    with pytest.raises(ValueError):
        Backoff(jitter=1.0)


GOOD_HTTP = {"reply_channel": "daphne.response.abc!def", "method": "GET", "path": "/",
             "headers": [[b"host", b"x"]], "body": b"", "query_string": b""}


@pytest.mark.parametrize(
    ("channel", "content", "expected"),
    [
        ("http.request", GOOD_HTTP, None),
        ("custom.channel", {"anything": object()}, None),
        ("custom.channel", ["not", "a", "dict"], "not a dict"),
        ("custom.channel", {"reply_channel": 5}, "reply_channel is a int"),
        ("custom.channel", {"reply_channel": "bad name!"}, "not a channel name"),
        ("http.request", {**GOOD_HTTP, "method": None}, "'method' is a NoneType"),
        ("http.request", {k: v for k, v in GOOD_HTTP.items() if k != "path"},
         "'path' is missing"),
        ("http.request", {**GOOD_HTTP, "body": "text"}, "'body' is a str"),
        ("http.request", {**GOOD_HTTP, "headers": [[b"host"]]}, "headers must be"),
        ("http.request", {**GOOD_HTTP, "headers": "host: x"}, "'headers' is a str"),
        ("websocket.connect", {"reply_channel": "r!1"}, "'path' is missing"),
        ("websocket.receive", {"reply_channel": "r!1", "text": b"x"}, "'text' is a bytes"),
        ("websocket.receive", {"reply_channel": "r!1", "text": "hi"}, None),
        ("websocket.disconnect", {"path": "/"}, "'reply_channel' is missing"),
        ("websocket.disconnect", {"reply_channel": "r!1", "code": 1000}, None),
    ],
)
def test_message_problem(channel, content, expected):
    problem = message_problem(channel, content)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_bad_request_reply_only_where_the_client_can_be_told():
    channel, reply = bad_request_reply("http.request", {"reply_channel": "r!1", "path": 3})
    assert channel == "r!1" and reply["status"] == 400 and reply["more_content"] is False
    assert bad_request_reply("websocket.connect", {"reply_channel": "r!2"}) == (
        "r!2", {"close": True})
    assert bad_request_reply("websocket.receive", {"reply_channel": "r!2"}) is None
    assert bad_request_reply("http.request", {"reply_channel": 7}) is None
    assert bad_request_reply("http.request", {"reply_channel": "no spaces allowed"}) is None
    assert bad_request_reply("http.request", "junk") is None


def test_stats_count_outcomes_and_dropped_sends():
    stats = WorkerStats()
    stats.record(Result(Outcome.CONSUMED, dropped_sends=[("a", "ChannelFull"), ("b", "x")]))
    stats.record(Result(Outcome.UNROUTED))
    stats.record(Result(Outcome.MALFORMED))
    stats.add("layer_errors", 3)
    snap = stats.snapshot()
    assert list(snap) == list(COUNTER_NAMES)
    assert snap["consumed"] == 1 and snap["dropped_sends"] == 2
    assert snap["unrouted"] == 1 and snap["malformed"] == 1 and snap["layer_errors"] == 3
    assert "consumed=1 failed=0" in stats.summary()
    with pytest.raises(KeyError):
        stats.add("no-such-counter")
