"""The interface server against a real Redis layer, with the app in a separate process:
end-to-end traffic, graceful shutdown seen from the app, Redis outages and restarts."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.interface_server.e2e import ROOT, RawWebSocket, RunningServer, start_server
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

REDIS_ASGI = "tests.interface_server.support.redis_asgi:channel_layer"


class AppProcess:
    """The test app consuming from Redis in its own process."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.control_file = tmp_path / f"app-control-{time.monotonic_ns()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.interface_server.support.app_process", url,
             str(self.control_file)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not self.control_file.exists() or not self.control_file.read_text():
            assert time.monotonic() < deadline, "the app process did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def attach(server: RunningServer, app: AppProcess) -> RunningServer:
    """Point the server's control helpers at the app process."""
    server.control_file = app.control_file
    return server


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[tuple[RunningServer, AppProcess]]:
    app = AppProcess(redis_url, tmp_path)
    server = attach(start_server(tmp_path, asgi=REDIS_ASGI,
                                 env={"IS_TEST_REDIS_URL": redis_url}), app)
    try:
        yield server, app
    finally:
        server.kill()
        app.stop()


def get(server: RunningServer, path: str, timeout: float = 15) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(server.url(path), timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_http_and_websocket_through_redis(stack: tuple[RunningServer, AppProcess]) -> None:
    server, _ = stack
    status, body = get(server, "/echo?via=redis")
    assert status == 200 and json.loads(body)["query_string"] == "via=redis"
    payload = b"z" * 2_000_000
    request = urllib.request.Request(server.url("/echo"), data=payload, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["body_length"] == len(payload)
    raw = RawWebSocket(server, "/ws/echo")
    assert raw.accepted
    for n in range(50):
        raw.send(f"m{n}".encode())
    assert [raw.recv() for _ in range(50)] == [(1, f"m{n}".encode()) for n in range(50)]
    raw.close()
    orders = [m["order"] for m in server.wait_messages("websocket.receive", 50)]
    assert orders == list(range(1, 51))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_idle_server_on_redis_uses_no_cpu(stack: tuple[RunningServer, AppProcess]) -> None:
    """The process channel is read with a blocking receive, not polled."""
    server, _ = stack
    raw = RawWebSocket(server, "/ws/echo")
    assert raw.accepted
    raw.send(b"x")
    assert raw.recv() == (1, b"x")
    time.sleep(0.2)
    assert server.idle_cpu_fraction() < 0.03
    raw.close()


def test_shutdown_disconnects_reach_the_app(stack: tuple[RunningServer, AppProcess]) -> None:
    server, _ = stack
    raw = RawWebSocket(server, "/ws/echo")
    assert raw.accepted
    reply_channel = server.wait_messages("websocket.connect")[0]["reply_channel"]
    server.process.send_signal(15)
    assert raw.recv_close_code() == 1001
    raw.send(struct.pack("!H", 1001), opcode=8)
    assert server.process.wait(15) == 0
    raw.close()
    [disconnect] = server.wait_messages("websocket.disconnect")
    assert disconnect["reply_channel"] == reply_channel and disconnect["code"] == 1001


def test_redis_restart_closes_sockets_1011_and_service_resumes(
    redis_factory: Callable[[], RedisServer], tmp_path: Path
) -> None:
    redis = redis_factory()
    app = AppProcess(redis.url, tmp_path)
    server = attach(start_server(tmp_path, asgi=REDIS_ASGI,
                                 env={"IS_TEST_REDIS_URL": redis.url}), app)
    try:
        raw = RawWebSocket(server, "/ws/echo")
        assert raw.accepted
        raw.send(b"before")
        assert raw.recv() == (1, b"before")
        redis.restart(down_for=0.5)
        # The server notices the new run_id, closes the socket whose group memberships and
        # replies were lost, and says so.
        assert raw.recv_close_code() == 1011
        raw.close()
        assert server.wait_log("lost its data", timeout=15) is not None
        deadline = time.monotonic() + 20
        while get(server, "/echo")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        again = RawWebSocket(server, "/ws/echo")
        assert again.accepted
        again.send(b"after")
        assert again.recv() == (1, b"after")
        again.close()
    finally:
        server.kill()
        app.stop()


def test_redis_down_answers_503_then_recovers(
    redis_factory: Callable[[], RedisServer], tmp_path: Path
) -> None:
    redis = redis_factory()
    app = AppProcess(redis.url, tmp_path)
    server = attach(start_server(tmp_path, asgi=REDIS_ASGI,
                                 env={"IS_TEST_REDIS_URL": redis.url}), app)
    try:
        assert get(server, "/echo")[0] == 200
        redis.stop()
        started = time.monotonic()
        status, _ = get(server, "/echo")
        assert status == 503 and time.monotonic() - started < 10
        assert server.wait_log("Channel layer unavailable") is not None
        redis.start()
        deadline = time.monotonic() + 20
        while get(server, "/echo")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.kill()
        app.stop()
