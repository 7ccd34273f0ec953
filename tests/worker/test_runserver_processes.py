"""Real ``manage.py runserver`` processes, driven over real sockets."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import websocket

from .procs import CommandProcess
from .test_runworker_processes import READY

pytestmark = pytest.mark.e2e

BANNER = r"Starting ASGI/Channels development server at (http://[^/ ]+/)"


@pytest.fixture
def start(tmp_path):
    started: list[CommandProcess] = []

    def run(command: str, *args: str, **env: str) -> CommandProcess:
        full_env = {"CC_TEST_DB": str(tmp_path / "db.sqlite3"), **env}
        proc = CommandProcess([command, *args], full_env)
        started.append(proc)
        return proc

    yield run
    for proc in started:
        proc.stop()


def base_url(proc: CommandProcess, pattern: str = BANNER, start: int = 0) -> str:
    return re.search(pattern, proc.wait_for(pattern, start=start)).group(1)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_ignoring_errors(url: str) -> None:
    """A request whose answer does not matter (the server is killed under it)."""
    with contextlib.suppress(OSError):
        get(url)


def ws_url(url: str, path: str) -> str:
    return url.replace("http://", "ws://").rstrip("/") + path


def test_in_memory_runserver_serves_views_static_files_and_websockets(start):
    server = start("runserver", "0", "--noreload", CC_TEST_DEBUG="1")
    url = base_url(server)
    server.wait_for(r"Channel layer default \(InMemoryChannelLayer\)")
    server.wait_for(r"Worker started with 4 threads")
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    assert get(url + "static/workerapp/site.css") == (200, b"body { color: teal; }\n")
    assert get(url + "missing/")[0] == 404

    ws = websocket.create_connection(ws_url(url, "/echo/"), timeout=20,
                                     subprotocols=["other", "echo.v1"])
    try:
        assert ws.getsubprotocol() == "echo.v1"  # from CHANNELS_WS_PROTOCOLS
        ws.send("hello over the in-memory layer")
        assert ws.recv() == "hello over the in-memory layer"
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url(url, "/deny/"), timeout=20)
    assert refused.value.status_code == 403

    server.wait_for(r"HTTP GET /hello/ 200 \[\d+\.\d\d, 127\.0\.0\.1:\d+\]")
    server.wait_for(r"HTTP GET /missing/ 404 \[")
    server.wait_for(r"WebSocket HANDSHAKING /echo/ \[127\.0\.0\.1:\d+\]")
    server.wait_for(r"WebSocket CONNECT /echo/ \[127\.0\.0\.1:\d+\]")
    server.wait_for(r"WebSocket DISCONNECT /echo/ \[127\.0\.0\.1:\d+\]")
    server.wait_for(r"WebSocket REJECT /deny/ \[127\.0\.0\.1:\d+\]")
    server.signal(signal.SIGINT)
    assert server.wait() == 0
    server.wait_for(r"Worker stopped; consumed=\d+ failed=0")


def test_nostatic_nothreading_and_script_name(start):
    server = start("runserver", "0", "--noreload", "--nostatic", "--nothreading",
                   CC_TEST_DEBUG="1", CC_TEST_SCRIPT_NAME="/prefix")
    url = base_url(server)
    server.wait_for(r"Worker started with 1 thread,")
    assert get(url + "static/workerapp/site.css")[0] == 404
    assert get(url + "probe/root-path/") == (200, b"root_path='/prefix'")
    server.signal(signal.SIGTERM)
    assert server.wait() == 0


def test_insecure_and_the_two_timeouts_take_effect(start):
    """DEBUG is off: static files only with --insecure; --http_timeout answers 503 when a view
    has not started its response in time; --websocket_handshake_timeout bounds a request head
    (which includes a WebSocket opening handshake) with 408."""
    server = start("runserver", "0", "--noreload", "--insecure", "--http_timeout", "1",
                   "--websocket_handshake_timeout", "1")
    url = base_url(server)
    assert get(url + "static/workerapp/site.css") == (200, b"body { color: teal; }\n")
    started = time.monotonic()
    status, _ = get(url + "slow/?seconds=2")
    assert status == 503 and time.monotonic() - started < 1.9
    host, port = url[len("http://"):].rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /echo/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert 0.5 < time.monotonic() - started < 5
    server.wait_for(r"HTTP GET /slow/ 503 \[")
    server.signal(signal.SIGTERM)
    assert server.wait() == 0


def test_sigint_lets_a_running_request_finish_and_a_second_one_exits_at_once(start):
    server = start("runserver", "0", "--noreload")
    url = base_url(server)
    answers: list = []
    request = threading.Thread(target=lambda: answers.append(get(url + "slow/?seconds=1")))
    request.start()
    server.wait_for("slow consumer started for 1.0 s")
    server.signal(signal.SIGINT)
    request.join(30)
    assert answers == [(200, b"slow done")]
    assert server.wait() == 0
    server.wait_for(r"Worker stopped; consumed=1 ")

    stuck = start("runserver", "0", "--noreload")
    url = base_url(stuck)
    threading.Thread(target=get_ignoring_errors, args=(url + "slow/?seconds=60",),
                     daemon=True).start()
    stuck.wait_for("slow consumer started for 60.0 s")
    stuck.signal(signal.SIGINT)
    stuck.wait_for("Shutting down gracefully")
    stuck.signal(signal.SIGINT)
    code = stuck.wait(15)
    assert code == 0, stuck.output


def test_runserver_noworker_with_separate_runworker_on_redis(start, redis_url):
    worker = start("runworker", CC_TEST_REDIS_URL=redis_url)
    worker.wait_for(READY)
    server = start("runserver", "0", "--noreload", "--noworker", CC_TEST_REDIS_URL=redis_url)
    url = base_url(server)
    server.wait_for(r"Channel layer default \(RedisChannelLayer\)")
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    ws = websocket.create_connection(ws_url(url, "/echo/"), timeout=20)
    try:
        ws.send("through redis")
        assert ws.recv() == "through redis"
    finally:
        ws.close()
    assert server.count("Worker started") == 0
    server.signal(signal.SIGTERM)
    worker.signal(signal.SIGTERM)
    assert server.wait() == 0 and worker.wait() == 0
    # The view and the WebSocket's messages all ran in the separate worker.
    line = worker.wait_for("Worker stopped;")
    assert int(line.split("consumed=")[1].split()[0]) >= 3


def test_noworker_with_the_in_memory_layer_warns(start):
    server = start("runserver", "0", "--noreload", "--noworker")
    server.wait_for("--noworker with the in-memory layer: no worker can reach")
    base_url(server)
    assert server.count("Worker started") == 0
    server.signal(signal.SIGTERM)
    assert server.wait() == 0


def test_runserver_with_workers_on_redis(start, redis_url):
    server = start("runserver", "0", "--noreload", CC_TEST_REDIS_URL=redis_url)
    url = base_url(server)
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    assert get(url + "static/workerapp/site.css")[0] == 404  # DEBUG off, no --insecure
    server.signal(signal.SIGINT)
    assert server.wait() == 0


def test_without_a_layer_or_with_noasgi_it_is_djangos_runserver(start):
    plain = start("runserver", "0", "--noreload", CC_TEST_NO_LAYER="1")
    plain.wait_for("CHANNEL_LAYERS has no 'default' layer")
    url = base_url(plain, r"Starting development server at (http://[^/ ]+/)")
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    assert plain.count("ASGI/Channels") == 0
    plain.signal(signal.SIGINT)
    plain.wait()

    wsgi = start("runserver", "0", "--noreload", "--noasgi")
    url = base_url(wsgi, r"Starting development server at (http://[^/ ]+/)")
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    wsgi.signal(signal.SIGINT)
    wsgi.wait()


def test_autoreloader_restarts_the_server_on_code_change(start, tmp_path):
    probe = tmp_path / "cc_reload_probe.py"
    probe.write_text("VERSION = 1\n")
    server = start("runserver", "0", CC_TEST_RELOAD_DIR=str(tmp_path))
    url = base_url(server)
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    seen = len(server.lines)
    # Change a module the project imported; the reloader restarts the child process.
    stat = probe.stat()
    probe.write_text("VERSION = 2\n")
    os.utime(probe, (stat.st_atime, stat.st_mtime + 2))
    # A second banner, from the new child process.
    url = base_url(server, start=seen)
    assert get(url + "hello/") == (200, b"Hello from /hello/")
    server.signal_group(signal.SIGINT)
    server.wait()
