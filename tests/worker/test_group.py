"""WorkerGroup: supervised threads, replacement of dead threads, graceful bounded stop."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from channels_classic.layers import InMemoryChannelLayer
from channels_classic.routing import Router, route
from worker.group import EXIT_DRAINED, EXIT_GRACE_EXPIRED, WorkerGroup

REPLY = "test.reply!"
WAIT = 10  # generous upper bound for anything below; tests return as soon as events fire


@pytest.fixture
def layer():
    return InMemoryChannelLayer(receive_timeout=0.05)


def take(layer, count):
    """Block (bounded) until ``count`` replies arrived; return them."""
    out = []
    while len(out) < count:
        deliveries = layer.fetch([REPLY], block=True)
        assert deliveries or len(out) == count, f"only {len(out)} of {count} replies"
        out.extend(d.content for d in deliveries)
    return out


def echo(message):
    message.reply_channel.send({"n": message["n"], "thread": threading.current_thread().name})


def test_threads_share_the_work_and_stop_drained(layer):
    group = WorkerGroup(layer, Router([route("test.echo", echo)]), threads=3, grace_period=5)
    group.start_background()
    for n in range(60):
        layer.send("test.echo", {"reply_channel": REPLY + "x", "n": n})
    got = take(layer, 60)
    assert sorted(r["n"] for r in got) == list(range(60))
    assert {r["thread"] for r in got} <= {f"channels-worker-{i}" for i in (1, 2, 3)}
    assert group.stop() == EXIT_DRAINED
    assert group.stats.snapshot()["consumed"] == 60


def test_dead_thread_is_logged_and_replaced(layer, caplog):
    def fatal(message):
        raise SystemExit("consumer called sys.exit")

    group = WorkerGroup(
        layer, Router([route("test.fatal", fatal), route("test.echo", echo)]),
        threads=1, grace_period=5,
    )
    group.start_background()
    layer.send("test.fatal", {"n": 0})
    layer.send("test.echo", {"reply_channel": REPLY + "x", "n": 1})
    # Served by the replacement thread (same slot, same name).
    assert take(layer, 1)[0]["n"] == 1
    assert group.stop() == EXIT_DRAINED
    snap = group.stats.snapshot()
    assert snap["killed"] == 1 and snap["thread_restarts"] == 1
    [record] = [r for r in caplog.records if "died" in r.getMessage()]
    assert "channels-worker-1 died (SystemExit" in record.getMessage()
    assert record.exc_info is not None


def test_stop_lets_the_in_flight_consumer_finish_and_flush(layer):
    started, release = threading.Event(), threading.Event()

    def slow(message):
        started.set()
        message.reply_channel.send({"done": message["n"]})
        assert release.wait(WAIT)

    group = WorkerGroup(layer, Router([route("test.slow", slow)]), threads=1, grace_period=WAIT)
    group.start_background()
    layer.send("test.slow", {"reply_channel": REPLY + "x", "n": 1})
    assert started.wait(WAIT)
    layer.send("test.slow", {"reply_channel": REPLY + "x", "n": 2})
    group.stop(wait=False)
    busy = group.in_flight()
    assert len(busy) == 1, (busy, [(t.name, t.is_alive(), w.in_flight)
                                   for t, w in group._slots.values()], group.stats.snapshot())
    [(thread, channel, _)] = busy
    assert (thread, channel) == ("channels-worker-1", "test.slow")
    release.set()
    group._supervisor.join(WAIT)
    assert group.exit_code == EXIT_DRAINED
    assert take(layer, 1) == [{"done": 1}]
    # The queued message was not fetched: it is still in the layer for the next worker.
    [left] = layer.fetch(["test.slow"])
    assert left.content["n"] == 2


def test_grace_period_expiry_reports_the_stuck_consumer(layer, caplog):
    started, release = threading.Event(), threading.Event()

    def stuck(message):
        started.set()
        release.wait(WAIT)

    group = WorkerGroup(layer, Router([route("test.stuck", stuck)]), threads=2,
                        grace_period=0.1)
    group.start_background()
    layer.send("test.stuck", {"n": 1})
    assert started.wait(WAIT)
    with caplog.at_level(logging.INFO, "channels_classic.worker"):
        code = group.stop()
    release.set()
    assert code == EXIT_GRACE_EXPIRED
    assert "is still consuming a message from test.stuck" in caplog.text
    assert "Worker stopped; consumed=0" in caplog.text


def test_sigterm_in_main_thread_drains_and_second_signal_exits_at_once(layer):
    started, release = threading.Event(), threading.Event()

    def slow(message):
        started.set()
        release.wait(WAIT)
        message.reply_channel.send({"done": True})

    def signal_twice():
        assert started.wait(WAIT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert group.stop_event.wait(WAIT)  # the first one was handled
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.getsignal(signal.SIGTERM)
    group = WorkerGroup(layer, Router([route("test.slow", slow)]), threads=1, grace_period=WAIT)
    layer.send("test.slow", {"reply_channel": REPLY + "x"})
    sender = threading.Thread(target=signal_twice)
    sender.start()
    code = group.serve(signal_handlers=True)
    sender.join()
    release.set()
    assert code == 128 + signal.SIGINT
    assert signal.getsignal(signal.SIGTERM) is previous


def test_sigterm_in_main_thread_exits_zero_when_idle(layer):
    group = WorkerGroup(layer, Router([route("test.echo", echo)]), threads=2, grace_period=WAIT)

    def when_ready():
        layer.send("test.echo", {"reply_channel": REPLY + "x", "n": 1})
        take(layer, 1)
        os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=when_ready)
    helper.start()
    assert group.serve(signal_handlers=True) == EXIT_DRAINED
    helper.join()


def test_invalid_thread_count(layer):
    with pytest.raises(ValueError):
        WorkerGroup(layer, Router([route("test.echo", echo)]), threads=0)
