"""Real-socket HTTP tests against a running ``python -m interface_server`` process."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interface_server.e2e import (
    ROOT,
    RawWebSocket,
    ResponseReader,
    RunningServer,
    raw_exchange,
    read_response,
    start_server,
)
from tests.interface_server.support.app import decode

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("http"), "--body-chunk-size", "64K",
                           "--max-body-size", "8M", "-t", "3")
    try:
        yield running
    finally:
        running.kill()


def get(server: RunningServer, path: str, **kwargs: object) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(server.url(path), timeout=15, **kwargs) as response:  # type: ignore[arg-type]
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_get_and_the_request_message(server: RunningServer) -> None:
    status, body = get(server, "/echo?x=%20y")
    description = json.loads(body)
    assert status == 200
    assert description["query_string"] == "x=%20y" and description["scheme"] == "http"
    assert description["client"][0] == "127.0.0.1" and description["http_version"] == "1.1"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_idle_server_with_open_connections_uses_no_cpu(server: RunningServer) -> None:
    """Nothing polls: with a keep-alive connection and a WebSocket open and no traffic, the
    server process (and the test app in it) sleeps.  A polling loop, even every 50 ms as in
    Daphne 1.x, would show up here."""
    websocket = RawWebSocket(server, "/ws/echo")
    assert websocket.accepted
    with server.connect() as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[1] == b"Hello, world!"
        time.sleep(0.2)  # let the last reply's work finish
        assert server.idle_cpu_fraction() < 0.03
    websocket.close()


def test_pipelining_on_one_socket(server: RunningServer) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     b"GET /status?code=204 HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        first = reader.read()
        second = reader.read()
        third = reader.read()
    assert json.loads(first[1])["query_string"] == "n=1"
    assert json.loads(second[1])["body_length"] == 3
    assert third[0].startswith(b"HTTP/1.1 204 ")


def test_chunked_request_body(server: RunningServer) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        head, body = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()


def test_large_body_is_streamed_through_body_channel(server: RunningServer) -> None:
    payload = bytes(range(256)) * 12000  # ~3 MB
    request = urllib.request.Request(server.url("/echo"), data=payload, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        description = json.loads(response.read())
    assert description["body_channel"] is True
    assert description["body_length"] == len(payload)
    assert description["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert description["chunks"] == -(-(len(payload) - 65536) // 65536)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"HELLO\r\n\r\n", 400),
        (b"GET /%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_a_status_and_a_closed_connection(
    server: RunningServer, data: bytes, status: int
) -> None:
    with server.connect() as sock:
        received = raw_exchange(sock, data)
    assert received.startswith(f"HTTP/1.1 {status} ".encode()), received[:200]
    assert get(server, "/echo")[0] == 200  # and everyone else is still served


def test_truncated_body_tells_the_app_and_others_are_served(server: RunningServer) -> None:
    server.control("/clear")
    with server.connect() as sock:
        sock.sendall(b"POST /echo?truncated HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n"
                     + b"x" * 200000)
        server.wait_messages("http.request")
    body_chunks = server.wait_messages("body", 1)
    disconnects = server.wait_messages("http.disconnect")
    assert any(chunk["closed"] for chunk in server.wait_messages("body", len(body_chunks)))
    assert [d["path"] for d in disconnects] == ["/echo"]
    assert get(server, "/echo")[0] == 200


def test_http_timeout_and_streams_past_it(server: RunningServer) -> None:
    started = time.monotonic()
    assert get(server, "/never")[0] == 503
    assert 2.5 < time.monotonic() - started < 10
    status, body = get(server, "/stream?chunks=3&delay=1.2&size=4")
    assert status == 200 and body == b"ssss" + b"cccc" * 3  # 3.6 s > -t 3: not cut


def test_disconnect_only_when_the_client_leaves_early(server: RunningServer) -> None:
    server.control("/clear")
    assert get(server, "/echo")[0] == 200
    with server.connect() as sock:
        sock.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_messages("http.request", 2)
    disconnects = server.wait_messages("http.disconnect")
    assert [d["path"] for d in disconnects] == ["/never"]


def test_response_headers_and_reply_problems(server: RunningServer) -> None:
    with server.connect() as sock:
        head, body = raw_exchange(sock, b"GET /headers HTTP/1.1\r\nHost: x\r\n\r\n",
                                  until=b"\r\n\r\nok").partition(b"\r\n\r\n")[::2]
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 201 Created"
    assert lines.count(b"set-cookie: a=1") == 1 and b"set-cookie: b=2" in lines
    assert b"x-custom: yes" in lines and body == b"ok"
    assert get(server, "/invalid")[0] == 500
    assert get(server, "/badheader")[0] == 500
    assert get(server, "/extra-keys") == (200, b"extra")
    with server.connect() as sock:
        data = raw_exchange(sock, b"GET /twice HTTP/1.1\r\nHost: x\r\n\r\n")
    # A second Response message cuts the connection (the status line may or may not have
    # left before the cut); the second body is never sent.
    assert b"two" not in data and not data.endswith(b"0\r\n\r\n")


def test_http10_and_head(server: RunningServer) -> None:
    with server.connect() as sock:
        data = raw_exchange(sock, b"GET /stream?chunks=2 HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"sssss" + b"c" * 10)
    with server.connect() as sock:
        head = raw_exchange(sock, b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", timeout=1)
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    # HTTP/1.0 keep-alive (ab -k): several requests on one connection.
    with server.connect() as sock:
        reader = ResponseReader(sock)
        for _ in range(3):
            sock.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            head, body = reader.read()
            assert b"connection: keep-alive" in head and body == b"Hello, world!"



def test_access_log_on_stdout(server: RunningServer) -> None:
    get(server, "/echo?logged")
    line = server.wait_log(r'"GET /echo" 200 \d+$', stream="stdout")
    assert line is not None
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\] "GET /echo" '
                        r"200 \d+", line)


def test_access_log_for_a_client_leaving_after_a_content_length_stream(
    server: RunningServer,
) -> None:
    """The client reads every declared byte and closes before the app's last (empty)
    message: a complete request in the access log, and no http.disconnect for the app."""
    server.control("/clear")
    with server.connect() as sock:
        sock.sendall(b"GET /stream?chunks=2&size=7&tail=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = read_response(sock)
    assert b"content-length: 21" in head and body == b"s" * 7 + b"c" * 14
    assert server.wait_log(r'"GET /stream" 200 21$', stream="stdout") is not None
    [complete] = server.wait_messages("http.request")
    # A request cut mid-stream is logged too, with the bytes that were actually sent.
    with server.connect() as sock:
        sock.sendall(b"GET /stream?chunks=2&size=9&delay=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        raw_exchange(sock, b"", until=b"s" * 9)
    assert server.wait_log(r'"GET /stream" 200 9$', stream="stdout") is not None
    cut = server.wait_messages("http.request", 2)[1]
    assert cut["reply_channel"] != complete["reply_channel"]
    time.sleep(0.5)  # the first response's last message has come and gone by now
    disconnects = server.wait_messages("http.disconnect")
    assert [d["reply_channel"] for d in disconnects] == [cut["reply_channel"]]


def test_proxy_headers_from_trusted_and_untrusted_peers(tmp_path: Path) -> None:
    trusted = start_server(tmp_path, "--proxy-headers")
    untrusted = start_server(tmp_path, "--proxy-headers", "--proxy-headers-trusted", "10.0.0.0/8")
    try:
        headers = {"X-Forwarded-For": "6.6.6.6, 1.2.3.4", "X-Forwarded-Proto": "https",
                   "X-Forwarded-Port": "8443"}
        for running, client, scheme in ((trusted, ["1.2.3.4", 8443], "https"),
                                         (untrusted, None, "http")):
            request = urllib.request.Request(running.url("/echo"), headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                description = json.loads(response.read())
            assert description["scheme"] == scheme
            if client:
                assert description["client"] == client
            else:
                assert description["client"][0] == "127.0.0.1"
            # The same headers on a WebSocket handshake: scheme wss, client from the proxy.
            raw = RawWebSocket(running, "/ws/describe", headers=b"".join(
                f"{name}: {value}\r\n".encode() for name, value in headers.items()))
            frame = raw.recv()
            raw.close()
            assert frame is not None and frame[0] == 1
            connect = decode(json.loads(frame[1]))
            assert connect["scheme"] == ("wss" if client else "ws")
            expected_client = client or ["127.0.0.1", connect["client"][1]]
            assert connect["client"] == expected_client
    finally:
        trusted.kill()
        untrusted.kill()


def test_root_path_flag_and_header(tmp_path: Path) -> None:
    plain = start_server(tmp_path, "--root-path", "/app")
    header = start_server(tmp_path, "--root-path", "/app", "--root-path-header")
    try:
        for running, expected in ((plain, "/app"), (header, "/from-proxy")):
            request = urllib.request.Request(running.url("/echo"),
                                             headers={"Daphne-Root-Path": "/from-proxy"})
            with urllib.request.urlopen(request, timeout=10) as response:
                description = json.loads(response.read())
            assert description["root_path"] == expected
            assert all(name != "daphne-root-path" for name, _ in description["headers"])
    finally:
        plain.kill()
        header.kill()


def test_access_log_file_and_verbosity(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    running = start_server(tmp_path, "--access-log", str(log), "-v", "1")
    try:
        get(running, "/echo")
        get(running, "/status?code=404")
        websocket = RawWebSocket(running, "/ws/echo")
        assert websocket.accepted
        websocket.send(struct.pack("!H", 1000), opcode=8)
        assert websocket.recv_close_code() == 1000
        websocket.close()
        rejected = RawWebSocket(running, "/ws/reject")
        rejected.close()
        assert rejected.head.startswith(b"HTTP/1.1 403 ")
        assert running.wait_messages("websocket.disconnect")
    finally:
        assert running.terminate() == 0
    lines = log.read_text().splitlines()
    assert [line.split('"', 1)[1] for line in lines] == [
        f'GET /echo" 200 {lines[0].split()[-1]}', 'GET /status" 404 6',
        'WSCONNECTING /ws/echo" - -', 'WSCONNECT /ws/echo" - -', 'WSDISCONNECT /ws/echo" - -',
        'WSCONNECTING /ws/reject" - -', 'WSREJECT /ws/reject" - -']


def _burst(server: RunningServer, count: int, path: str) -> list[int]:
    results: list[int] = [0] * count
    barrier = threading.Barrier(count)

    def one(index: int) -> None:
        barrier.wait()
        try:
            with urllib.request.urlopen(server.url(path), timeout=60) as response:
                results[index] = response.status
        except urllib.error.HTTPError as exc:
            results[index] = exc.code
        except OSError:
            results[index] = -1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results


def test_256_concurrent_requests_at_default_capacity_are_all_served(tmp_path: Path) -> None:
    """The app is paused while 256 requests arrive: 100 fill http.request (default capacity)
    and 156 wait in the admission queue; when the app resumes, every one gets its 200."""
    running = start_server(tmp_path, "-v", "2")
    try:
        running.control("/pause")
        outcome: list[list[int]] = []
        burst = threading.Thread(target=lambda: outcome.append(_burst(running, 256, "/echo")))
        burst.start()
        assert running.wait_log("Channel http.request is full", timeout=30) is not None
        time.sleep(0.5)  # let the rest of the burst arrive and queue up
        running.control("/resume")
        burst.join(120)
        assert outcome and outcome[0].count(200) == 256, outcome
    finally:
        running.kill()


def test_true_overload_still_answers_503(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--admission-timeout", "0.5", "-t", "30",
                           env={"IS_TEST_CAPACITY": "10"})
    try:
        running.control("/pause")
        outcome: list[list[int]] = []
        burst = threading.Thread(target=lambda: outcome.append(_burst(running, 30, "/echo")))
        burst.start()
        time.sleep(2.5)
        running.control("/resume")
        burst.join(60)
        statuses = outcome[0]
        assert statuses.count(503) == 20 and statuses.count(200) == 10, statuses
        assert running.wait_log("503: http.request: channel layer full") is not None
    finally:
        running.kill()


def test_sigterm_finishes_in_flight_responses_and_exits_0(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--shutdown-timeout", "10")
    result: list[tuple[int, bytes]] = []
    slow = threading.Thread(target=lambda: result.append(get(running, "/slow?delay=1.5")))
    slow.start()
    running.wait_messages("http.request")
    idle = running.connect()
    running.process.send_signal(15)
    assert running.process.wait(15) == 0
    slow.join(10)
    assert result == [(200, b"slow")]
    assert idle.recv(10) == b""  # idle keep-alive connection closed, not cut mid-response
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection((running.host, running.port), timeout=2).close()
    assert any("Stopped" in line for line in running.stderr)
    running.kill()


def test_grace_period_cuts_what_is_still_running(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--shutdown-timeout", "0.5")
    with running.connect() as sock:
        sock.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        running.wait_messages("http.request")
        started = time.monotonic()
        running.process.send_signal(15)
        assert running.process.wait(15) == 0
        assert time.monotonic() - started < 5
        assert raw_exchange(sock, b"", timeout=2) == b""
    assert running.wait_log("Grace period over: cutting 1 connection") is not None
    running.kill()


def test_port_from_the_environment(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = start_server(tmp_path, env={"PORT": str(port)}, wait=False)
    try:
        assert running.ready.wait(30)
        assert running.addresses == [f"127.0.0.1:{port}"]
    finally:
        running.kill()


def test_procfile_line_with_port_from_honcho(tmp_path: Path) -> None:
    """``web: interface-server ... -p $PORT`` as a Heroku-style Procfile says it, run by
    honcho (which sets $PORT per process)."""
    honcho = pytest.importorskip("honcho")
    del honcho
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"web: exec {sys.executable} -m interface_server -b 127.0.0.1 -p $PORT "
                        "tests.interface_server.support.inmemory_asgi:channel_layer\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(ROOT), "start",
         "-p", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        assert process.stdout is not None
        line = ""
        for line in process.stdout:
            if "Listening on tcp at" in line:
                break
        assert line.rstrip().endswith(f"Listening on tcp at 127.0.0.1:{port}"), line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=10) as response:
            assert response.read() == b"Hello, world!"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-such-flag", "x:y"], "unrecognized arguments: --no-such-flag"),
        (["no_such_module_xyz:layer"], "cannot import 'no_such_module_xyz'"),
        (["tests.interface_server.support.app:missing"], "has no attribute 'missing'"),
        (["tests.interface_server.support.app:APP_CHANNELS"], "not a channels_classic channel"),
        (["nocolon"], "module.path:attribute"),
        (["x:y", "-t", "soon"], "expected a number of seconds"),
        ([], "required: channel_layer"),
        (["tests.interface_server.support.inmemory_asgi:channel_layer", "-p", "http"],
         "port must be a number"),
        (["tests.interface_server.support.inmemory_asgi:channel_layer", "--max-body-size",
          "-5"], "max-body-size"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "interface_server", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("interface-server: error: ") and message in lines[0]


def test_address_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "interface_server",
             "tests.interface_server.support.inmemory_asgi:channel_layer", "-p", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
            env={"IS_TEST_CONTROL_FILE": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"},
            check=False)
    assert result.returncode == 1
    assert "Cannot start" in result.stderr and "Address already in use" in result.stderr


def test_slow_header_and_idle_timeouts(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--request-head-timeout", "0.5", "--idle-timeout", "1")
    try:
        with running.connect() as slow:
            slow.sendall(b"GET /echo HTTP/1.1\r\nHo")
            started = time.monotonic()
            assert raw_exchange(slow, b"").startswith(b"HTTP/1.1 408 ")
            assert time.monotonic() - started < 5
        with running.connect() as idle:
            started = time.monotonic()
            assert raw_exchange(idle, b"") == b""  # closed silently
            assert 0.8 < time.monotonic() - started < 5
    finally:
        running.kill()


def test_client_that_does_not_read_is_cut_and_memory_stays_bounded(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--max-outbound-buffer", "256K")
    try:
        sock = running.connect()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big?size=40000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        line = running.wait_log("the client does not read its response", timeout=20)
        assert line is not None
        [disconnect] = running.wait_messages("http.disconnect")
        assert disconnect["path"] == "/big"
        sock.close()
        assert get(running, "/echo")[0] == 200
    finally:
        running.kill()
