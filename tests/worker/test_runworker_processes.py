"""Real ``manage.py runworker`` processes against a real redis-server.

Every test synchronises on log lines and channel messages, never on sleeps.
"""

from __future__ import annotations

import signal
import time

import pytest

from channels_classic.layers import new_process_prefix
from channels_classic.layers.redis import RedisChannelLayer

from .procs import CommandProcess

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

READY = r"Worker started with \d+ threads?, listening on channels"


@pytest.fixture
def start_worker(tmp_path):
    started: list[CommandProcess] = []

    def start(redis_url: str, *args: str, debug: bool = False) -> CommandProcess:
        env = {"CC_TEST_REDIS_URL": redis_url, "CC_TEST_DB": str(tmp_path / "db.sqlite3")}
        if debug:
            env["CC_TEST_DEBUG"] = "1"
        proc = CommandProcess(["runworker", *args], env)
        started.append(proc)
        proc.wait_for(READY)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def client(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url], receive_timeout=0.5)
    yield layer
    layer.close()


class Inbox:
    """A process-local channel prefix the test receives replies on."""

    def __init__(self, layer: RedisChannelLayer) -> None:
        self.layer = layer
        self.prefix = new_process_prefix("tests")

    def channel(self, name: str = "r") -> str:
        return self.prefix + name

    def take(self, count: int, timeout: float = 30.0) -> list[dict]:
        return [d.content for d in self.take_deliveries(count, timeout)]

    def take_deliveries(self, count: int, timeout: float = 30.0) -> list:
        got: list = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"got {len(got)} of {count}: {got[-5:]}"
            got.extend(self.layer.fetch([self.prefix], block=True,
                                        max_messages=count - len(got)))
        return got

    def responses(self, names: list[str], timeout: float = 30.0) -> dict[str, dict]:
        """Assemble complete HTTP responses (status + joined content) by reply channel."""
        done: dict[str, dict] = {}
        partial: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(names):
            assert time.monotonic() < deadline, f"incomplete responses: {partial}"
            for delivery in self.layer.fetch([self.prefix], block=True, max_messages=10):
                name = delivery.channel[len(self.prefix):]
                response = partial.setdefault(name, {"content": b""})
                if "status" in delivery.content:
                    response["status"] = delivery.content["status"]
                response["content"] += delivery.content.get("content", b"")
                if not delivery.content.get("more_content", False):
                    done[name] = partial.pop(name)
        return done

    def nothing_more(self) -> None:
        """One full receive window passes with nothing arriving."""
        assert self.layer.fetch([self.prefix], block=True) == []


def send_many(layer, channel, contents):
    results = layer.send_many([(channel, content) for content in contents])
    assert results == [None] * len(results)


def test_trivial_consumer_all_messages_consumed_and_counted(redis_url, client, start_worker):
    worker = start_worker(redis_url, "-v", "2", "--only-channels", "test.*",
                          "--exclude-channels", "test.slow")
    listening = worker.wait_for("listening on channels")
    assert "test.echo" in listening and "test.slow" not in listening
    assert "http.request" not in listening
    inbox = Inbox(client)
    for start in range(0, 1000, 100):  # channel capacity is 100
        send_many(client, "test.echo",
                  [{"reply_channel": inbox.channel(), "n": n} for n in range(start, start + 100)])
        inbox_batch = inbox.take(100)
        assert sorted(r["n"] for r in inbox_batch) == list(range(start, start + 100))
    assert {r["pid"] for r in inbox_batch} == {worker.pid}
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    worker.wait_for(r"Worker stopped; consumed=1000 failed=0")
    assert worker.count(r"test\.echo -> tests\.workerapp\.consumers\.echo \(") == 1000


def test_two_workers_share_a_channel_each_message_exactly_once(redis_url, client, start_worker):
    workers = [start_worker(redis_url, "--threads", "2") for _ in range(2)]
    # Start-up signals: once for the process, then once per worker thread.
    signals = [line for line in workers[0].lines if "signal worker_" in line]
    assert "signal worker_process_ready from WorkerGroup" in signals[0]
    inbox = Inbox(client)
    total = 400
    got = []
    for start in range(0, total, 100):
        send_many(client, "test.echo",
                  [{"reply_channel": inbox.channel(), "n": n} for n in range(start, start + 100)])
        got.extend(inbox.take(100))
    inbox.nothing_more()
    assert workers[0].count("signal worker_ready from Worker") == 2
    assert sorted(r["n"] for r in got) == list(range(total))
    assert {r["pid"] for r in got} <= {w.pid for w in workers}
    consumed = 0
    for worker in workers:
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        line = worker.wait_for(r"Worker stopped; consumed=\d+")
        consumed += int(line.split("consumed=")[1].split()[0])
    assert consumed == total


def test_sigterm_during_slow_consumer_finishes_it_sends_reply_and_exits_zero(
    redis_url, client, start_worker
):
    worker = start_worker(redis_url)
    inbox = Inbox(client)
    client.send("test.slow", {"reply_channel": inbox.channel(), "events": inbox.channel("ev"),
                              "n": 1, "seconds": 1.0})
    assert inbox.take(1) == [{"started": 1, "pid": worker.pid}]
    client.send("test.echo", {"reply_channel": inbox.channel(), "n": 2})
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert inbox.take(1) == [{"done": 1, "pid": worker.pid}]
    worker.wait_for(r"Stopping \(signal SIGTERM\): no new messages; waiting up to 25 s "
                    r"for 1 in-flight consumer")
    worker.wait_for(r"Worker stopped; consumed=1 ")
    # The message queued behind the slow one was not taken: it waits for the next worker.
    [left] = client.fetch(["test.echo"])
    assert left.content["n"] == 2


def test_second_signal_exits_at_once_and_grace_period_is_bounded(redis_url, client,
                                                                 start_worker):
    inbox = Inbox(client)
    first = start_worker(redis_url)
    client.send("test.slow", {"reply_channel": inbox.channel(), "events": inbox.channel("ev"),
                              "n": 1, "seconds": 60})
    inbox.take(1)
    first.signal(signal.SIGTERM)
    first.wait_for("Stopping")
    first.signal(signal.SIGINT)
    assert first.wait(10) == 128 + signal.SIGINT
    first.wait_for("Second signal received; exiting at once")

    second = start_worker(redis_url, "--grace-period", "0.5")
    client.send("test.slow", {"reply_channel": inbox.channel(), "events": inbox.channel("ev"),
                              "n": 2, "seconds": 60})
    inbox.take(1)
    second.signal(signal.SIGTERM)
    assert second.wait(10) == 1
    second.wait_for(r"Grace period over: channels-worker-1 is still consuming a message from "
                    r"test\.slow")


def test_kill_9_of_one_worker_the_other_keeps_serving(redis_url, client, start_worker):
    doomed, survivor = start_worker(redis_url), start_worker(redis_url)
    doomed.signal(signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL
    inbox = Inbox(client)
    send_many(client, "test.echo", [{"reply_channel": inbox.channel(), "n": n}
                                    for n in range(50)])
    got = inbox.take(50)
    assert sorted(r["n"] for r in got) == list(range(50))
    assert {r["pid"] for r in got} == {survivor.pid}


def test_redis_restart_under_a_running_worker(redis_factory, start_worker, tmp_path):
    server = redis_factory()
    worker = start_worker(server.url)
    layer = RedisChannelLayer(hosts=[server.url], receive_timeout=0.5)
    try:
        inbox = Inbox(layer)
        layer.send("test.echo", {"reply_channel": inbox.channel(), "n": 1})
        assert inbox.take(1)[0]["n"] == 1
        server.stop()
        worker.wait_for(r"Channel layer 'default' \(RedisChannelLayer\) is unavailable")
        server.start()
        layer.send("test.echo", {"reply_channel": inbox.channel(), "n": 2})
        assert inbox.take(1)[0]["n"] == 2
        worker.wait_for("is reachable again after")
        assert worker.count(r"\(RedisChannelLayer\) is unavailable") == 1, worker.output
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0
        line = worker.wait_for("Worker stopped;")
        assert "consumed=2 " in line and "layer_errors=0" not in line
    finally:
        layer.close()


def test_faults_are_logged_counted_and_the_worker_keeps_serving(redis_url, client,
                                                               start_worker):
    worker = start_worker(redis_url, "--threads", "2")
    inbox = Inbox(client)
    reply = inbox.channel()
    client.send("test.boom", {"reply_channel": reply})
    client.send("test.later", {"n": 1})
    client.send("test.filtered", {"reply_channel": reply, "kind": "nope"})
    client.send("test.fatal", {})
    client.send("http.request", {"reply_channel": inbox.channel("h"), "method": "GET"})
    client.send("websocket.connect", {"reply_channel": inbox.channel("w"), "path": "/deny/"})
    client.send("websocket.receive", {"reply_channel": reply, "text": b"bytes, not text"})
    client.send("test.echo", {"reply_channel": 42, "n": 0})
    got = inbox.take(2)
    by_channel = {tuple(sorted(r)): r for r in got}
    assert {"close": True} in got
    [http] = [r for r in got if "status" in r]
    assert http["status"] == 400
    assert len(by_channel) == 2
    worker.wait_for(r"Consumer tests\.workerapp\.consumers\.boom failed on a message from "
                    r"test\.boom")
    worker.wait_for(r"ValueError: boom from the test consumer")
    worker.wait_for(r"Message on test\.later was put back with ConsumeLater 2 times; dropped")
    worker.wait_for(r"No route for a message on test\.filtered")
    worker.wait_for(r"Worker thread channels-worker-\d died \(SystemExit: fatal test consumer\)"
                    r"; starting a replacement")
    worker.wait_for(r"Malformed message on http\.request dropped: required key 'path'")
    worker.wait_for(r"Malformed message on websocket\.receive dropped: 'text' is a bytes")
    worker.wait_for(r"Malformed message on test\.echo dropped: reply_channel is a int")
    # Still serving, including on the replaced thread.
    send_many(client, "test.echo", [{"reply_channel": reply, "n": n} for n in range(20)])
    assert sorted(r["n"] for r in inbox.take(20)) == list(range(20))
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    summary = worker.wait_for("Worker stopped;")
    for expected in ("consumed=20 ", "failed=1 ", "socket_actions=1 ", "requeued=2 ",
                     "dropped_retries=1 ", "unrouted=1 ", "malformed=3 ", "killed=1 ",
                     "thread_restarts=1"):
        assert expected in summary, summary


def test_database_connections_closed_between_messages(redis_url, client, start_worker):
    worker = start_worker(redis_url)
    inbox = Inbox(client)
    for _ in range(3):
        client.send("test.db", {"reply_channel": inbox.channel()})
    assert [r["previous_closed"] for r in inbox.take(3)] == [None, True, True]
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_debug_worker_serves_static_files_and_views(redis_url, client, start_worker):
    worker = start_worker(redis_url, debug=True)
    inbox = Inbox(client)
    base = {"method": "GET", "http_version": "1.1", "scheme": "http", "query_string": b"",
            "headers": [[b"host", b"localhost"]], "body": b""}
    client.send("http.request", {**base, "reply_channel": inbox.channel("s"),
                                 "path": "/static/workerapp/site.css"})
    client.send("http.request", {**base, "reply_channel": inbox.channel("v"),
                                 "path": "/hello/"})
    responses = inbox.responses(["s", "v"])
    assert responses == {
        "s": {"status": 200, "content": b"body { color: teal; }\n"},
        "v": {"status": 200, "content": b"Hello from /hello/"},
    }
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
