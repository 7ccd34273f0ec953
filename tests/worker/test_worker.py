"""Worker: one receive-dispatch loop, driven in-process with the in-memory layer."""

from __future__ import annotations

import logging
import threading

import pytest

from channels_classic.exceptions import (
    ChannelSocketException,
    ConsumeLater,
    DenyConnection,
)
from channels_classic.layers import InMemoryChannelLayer, LayerUnavailable
from channels_classic.routing import Router, route
from channels_classic.signals import consumer_finished, consumer_started, worker_ready
from worker.backoff import Backoff
from worker.dispatch import Outcome
from worker.worker import Worker

REPLY = "test.reply!"


@pytest.fixture
def layer():
    return InMemoryChannelLayer(receive_timeout=0.05)


def replies(layer):
    out = []
    while True:
        channel, content = layer.receive([REPLY])
        if channel is None:
            return out
        out.append(content)


def echo(message):
    message.reply_channel.send({"echo": message["n"]})


def boom(message):
    raise RuntimeError("consumer bug")


def test_worker_rejects_empty_channel_selection(layer):
    with pytest.raises(ValueError, match="No channels to listen on"):
        Worker(layer, Router([route("a.b", echo)]), only_channels=["x.*"])
    with pytest.raises(TypeError, match="needs a router"):
        Worker(layer)


def test_run_once_consumes_and_flushes(layer):
    worker = Worker(layer, Router([route("test.echo", echo)]))
    layer.send("test.echo", {"reply_channel": REPLY + "1", "n": 7})
    [result] = worker.run_once()
    assert result.outcome is Outcome.CONSUMED
    assert result.consumer == "tests.worker.test_worker.echo"
    assert replies(layer) == [{"echo": 7}]
    assert worker.run_once() == []  # bounded wait, then nothing
    assert worker.stats.snapshot()["consumed"] == 1


def test_consumer_exception_logged_with_channel_and_name_and_loop_goes_on(layer, caplog):
    worker = Worker(layer, Router([route("test.boom", boom), route("test.echo", echo)]))
    layer.send("test.boom", {"n": 1})
    layer.send("test.echo", {"reply_channel": REPLY + "1", "n": 2})
    with caplog.at_level(logging.ERROR, "channels_classic.worker"):
        results = worker.run_once() + worker.run_once()
    # The layer picks among ready channels fairly, so the order is not fixed.
    assert sorted(r.outcome.value for r in results) == ["consumed", "failed"]
    [record] = [r for r in caplog.records if "failed on a message" in r.getMessage()]
    assert "tests.worker.test_worker.boom" in record.getMessage()
    assert "test.boom" in record.getMessage()
    assert record.exc_info is not None and "consumer bug" in str(record.exc_info[1])
    assert replies(layer) == [{"echo": 2}]
    assert worker.stats.snapshot()["failed"] == 1


def test_deny_connection_closes_socket(layer):
    def deny(message):
        raise DenyConnection()

    worker = Worker(layer, Router([route("websocket.connect", deny)]))
    layer.send("websocket.connect", {"reply_channel": REPLY + "c", "path": "/"})
    [result] = worker.run_once()
    assert result.outcome is Outcome.SOCKET_ACTION
    assert replies(layer) == [{"close": True}]
    assert worker.stats.snapshot()["socket_actions"] == 1


def test_custom_channel_socket_exception_runs(layer):
    class Redirect(ChannelSocketException):
        def run(self, message):
            message.reply_channel.send({"text": "moved", "close": 4000}, immediately=True)

    def consumer(message):
        raise Redirect()

    worker = Worker(layer, Router([route("websocket.receive", consumer)]))
    layer.send("websocket.receive", {"reply_channel": REPLY + "c", "path": "/", "text": "x"})
    assert worker.run_once()[0].outcome is Outcome.SOCKET_ACTION
    assert replies(layer) == [{"text": "moved", "close": 4000}]


def test_consume_later_requeues_outside_content_up_to_limit(layer, caplog):
    seen = []

    def later(message):
        seen.append((dict(message.content), message.attempts))
        raise ConsumeLater()

    worker = Worker(layer, Router([route("test.later", later)]), message_retries=2)
    layer.send("test.later", {"n": 1})
    outcomes = [worker.run_once()[0].outcome for _ in range(3)]
    assert outcomes == [Outcome.REQUEUED, Outcome.REQUEUED, Outcome.DROPPED_RETRIES]
    # The user's content never carries the retry count.
    assert seen == [({"n": 1}, 0), ({"n": 1}, 1), ({"n": 1}, 2)]
    assert worker.run_once() == []
    snap = worker.stats.snapshot()
    assert snap["requeued"] == 2 and snap["dropped_retries"] == 1
    assert "put back with ConsumeLater 2 times; dropped" in caplog.text


def test_consume_later_limit_from_settings(layer, settings):
    settings.CHANNELS_CONSUME_LATER_RETRIES = 0

    def later(message):
        raise ConsumeLater()

    worker = Worker(layer, Router([route("test.later", later)]))
    layer.send("test.later", {"n": 1})
    assert worker.run_once()[0].outcome is Outcome.DROPPED_RETRIES


def test_unrouted_logged_and_counted(layer, caplog):
    worker = Worker(layer, Router([route("test.echo", echo, path=r"^/only$")]))
    layer.send("test.echo", {"path": "/other", "n": 1})
    assert worker.run_once()[0].outcome is Outcome.UNROUTED
    assert "No route for a message on test.echo" in caplog.text
    assert worker.stats.snapshot()["unrouted"] == 1


@pytest.mark.parametrize(
    ("channel", "content", "answer"),
    [
        ("http.request", {"reply_channel": REPLY + "h", "method": "GET"}, 400),
        ("http.request", {"reply_channel": REPLY + "h", "method": b"GET", "path": "/"}, 400),
        ("websocket.connect", {"reply_channel": REPLY + "w", "path": None}, "close"),
        ("websocket.receive", {"reply_channel": REPLY + "w", "bytes": "not bytes"}, None),
        ("websocket.receive", {"reply_channel": 12}, None),
        ("test.echo", {"reply_channel": ["a list"], "n": 1}, None),
    ],
)
def test_malformed_messages_never_reach_consumers_nor_stop_the_loop(
    layer, caplog, channel, content, answer
):
    ran = []
    routes = [route(name, lambda m: ran.append(m)) for name in (
        "http.request", "websocket.connect", "websocket.receive")]
    worker = Worker(layer, Router([*routes, route("test.echo", echo)]))
    layer.send(channel, content)
    layer.send("test.echo", {"reply_channel": REPLY + "e", "n": 5})
    results = worker.run_once() + worker.run_once()
    assert sorted(r.outcome.value for r in results) == ["consumed", "malformed"]
    assert ran == []
    assert f"Malformed message on {channel} dropped" in caplog.text
    got = replies(layer)
    assert {"echo": 5} in got
    got.remove({"echo": 5})
    if answer == 400:
        assert [reply["status"] for reply in got] == [400]
    elif answer == "close":
        assert got == [{"close": True}]
    else:
        assert got == []
    assert worker.stats.snapshot()["malformed"] == 1


def test_signals_sent_around_each_consumer_and_worker_ready(layer):
    events = []

    def started(sender, environ, **kwargs):
        events.append(("started", environ["n"]))

    def finished(sender, **kwargs):
        events.append(("finished",))

    def ready(sender, **kwargs):
        events.append(("ready", type(sender).__name__))
        sender.stop()  # after ready, run() checks the flag: one message is never fetched

    consumer_started.connect(started)
    consumer_finished.connect(finished)
    worker_ready.connect(ready)
    try:
        worker = Worker(layer, Router([route("test.boom", boom)]))
        layer.send("test.boom", {"n": 3})
        worker.run()
        assert events == [("ready", "Worker")]
        worker.run_once()
        assert events[1:] == [("started", 3), ("finished",)]
    finally:
        consumer_started.disconnect(started)
        consumer_finished.disconnect(finished)
        worker_ready.disconnect(ready)


class FlakyLayer(InMemoryChannelLayer):
    """Fails the next ``failures`` fetches, like a Redis outage seen through the layer."""

    def __init__(self, failures, error=None):
        super().__init__(receive_timeout=0.05)
        self.failures = failures
        self.error = error or LayerUnavailable("connection refused")

    def fetch(self, channels, block=False, max_messages=1):
        if self.failures:
            self.failures -= 1
            raise self.error
        return super().fetch(channels, block=block, max_messages=max_messages)


def test_layer_outage_logged_once_backed_off_and_recovery_logged(caplog):
    layer = FlakyLayer(failures=4)
    worker = Worker(layer, Router([route("test.echo", echo)]),
                    backoff=Backoff(first=0.001, cap=0.002))
    layer.send("test.echo", {"reply_channel": REPLY + "1", "n": 1})
    with caplog.at_level(logging.DEBUG, "channels_classic.worker"):
        results = [worker.run_once() for _ in range(5)]
    assert results[:4] == [[], [], [], []]
    assert results[4][0].outcome is Outcome.CONSUMED
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([m for m in warnings if "is unavailable" in m]) == 1
    assert len([m for m in warnings if "reachable again" in m]) == 1
    assert worker.stats.snapshot()["layer_errors"] == 4
    assert worker.backoff.failures == 0 and not worker.health.is_down


def test_unexpected_fetch_error_is_logged_with_traceback_and_survived(caplog):
    layer = FlakyLayer(failures=1, error=KeyError("layer bug"))
    worker = Worker(layer, Router([route("test.echo", echo)]),
                    backoff=Backoff(first=0.001, cap=0.002))
    assert worker.run_once() == []
    [record] = [r for r in caplog.records if "Receiving from channel layer" in r.getMessage()]
    assert record.exc_info is not None
    layer.send("test.echo", {"reply_channel": REPLY + "1", "n": 1})
    assert worker.run_once()[0].outcome is Outcome.CONSUMED


def test_stop_cuts_backoff_short():
    layer = FlakyLayer(failures=1)
    worker = Worker(layer, Router([route("test.echo", echo)]),
                    backoff=Backoff(first=60, cap=60))
    worker.stop()
    # With stop already requested the 60 s backoff wait returns at once.
    assert worker.run_once() == []


def test_message_fetched_when_stop_requested_is_still_processed(layer):
    worker_box = {}

    class StopDuringFetch(InMemoryChannelLayer):
        def fetch(self, channels, block=False, max_messages=1):
            result = super().fetch(channels, block=block, max_messages=max_messages)
            worker_box["worker"].stop()  # the stop lands while the fetch is in progress
            return result

    layer = StopDuringFetch(receive_timeout=0.05)
    worker = Worker(layer, Router([route("test.echo", echo)]))
    worker_box["worker"] = worker
    layer.send("test.echo", {"reply_channel": REPLY + "1", "n": 9})
    worker.run()
    assert replies(layer) == [{"echo": 9}]
    assert worker.stats.snapshot()["consumed"] == 1


def test_signal_handler_only_sets_flag_in_main_thread(layer):
    import os
    import signal

    def consumer(message):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the consumer runs
        message.reply_channel.send({"done": True})

    worker = Worker(layer, Router([route("test.sig", consumer)]), signal_handlers=True)
    layer.send("test.sig", {"reply_channel": REPLY + "1"})
    layer.send("test.sig", {"reply_channel": REPLY + "2"})
    previous = signal.getsignal(signal.SIGTERM)
    worker.run()
    assert worker.termed
    assert replies(layer) == [{"done": True}]  # finished the first, never fetched the second
    assert signal.getsignal(signal.SIGTERM) is previous
    assert threading.current_thread() is threading.main_thread()


def test_dispatch_itself_never_raises_on_an_unwrappable_message(layer, caplog):
    from channels_classic.layers import Delivery
    from worker.dispatch import dispatch

    router = Router([route("test.echo", echo)])
    result = dispatch(Delivery("test.echo", {"reply_channel": 42}), layer, router)
    assert result.outcome is Outcome.MALFORMED and isinstance(result.error, TypeError)
    assert "Malformed message on test.echo dropped: TypeError" in caplog.text
