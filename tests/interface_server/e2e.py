"""Start the real ``python -m interface_server`` in a subprocess and talk to it over sockets.

The ASGI module given to it (by default :mod:`tests.interface_server.support.inmemory_asgi`)
runs the test app in the server process; the app's control port is read from a file so tests
can see what the app received.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.interface_server.support.app import decode

ROOT = Path(__file__).resolve().parents[2]
INMEMORY = "tests.interface_server.support.inmemory_asgi:channel_layer"
_LISTENING = re.compile(r"Listening on (\w+) at (\S+)")
_READY = "Receiving replies on process channel"


class RunningServer:
    """A running interface-server process."""

    def __init__(self, process: subprocess.Popen[str], control_file: Path) -> None:
        self.process = process
        self.control_file = control_file
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self.addresses: list[str] = []
        self.ready = threading.Event()
        self._threads = [
            threading.Thread(target=self._pump, args=(process.stderr, self.stderr, True),
                             daemon=True),
            threading.Thread(target=self._pump, args=(process.stdout, self.stdout, False),
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: Any, lines: list[str], watch: bool) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
            if watch:
                match = _LISTENING.search(line)
                if match:
                    self.addresses.append(match.group(2))
                if _READY in line:
                    self.ready.set()
        if watch:
            self.ready.set()  # process ended

    # -- addresses -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.addresses[0].rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.addresses[0].rpartition(":")[2])

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def ws_url(self, path: str = "/ws") -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def connect(self, timeout: float = 10) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return sock

    # -- the test app ----------------------------------------------------------------------

    def control(self, path: str) -> Any:
        port = int(self.control_file.read_text())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=b"" if path in (
                "/pause", "/resume", "/clear") else None, timeout=10) as response:
            return json.loads(response.read())

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        record = decode(self.control("/messages"))
        return [entry["content"] for entry in record if channel in (None, entry["channel"])]

    def wait_messages(self, channel: str, count: int = 1, timeout: float = 10
                      ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(channel)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def wait_log(self, pattern: str, timeout: float = 10, stream: str = "stderr") -> str | None:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        lines = self.stderr if stream == "stderr" else self.stdout
        while time.monotonic() < deadline:
            for line in list(lines):
                if regex.search(line):
                    return line
            time.sleep(0.02)
        return None

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def idle_cpu_fraction(self, seconds: float = 2.0) -> float:
        """Share of one core the process uses while nothing happens for ``seconds``."""
        before, started = self.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        return (self.cpu_seconds() - before) / (time.monotonic() - started)

    # -- stopping ------------------------------------------------------------------------------

    def terminate(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.kill()

    def _close_streams(self) -> None:
        for thread in self._threads:
            thread.join(2)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._close_streams()


def start_server(tmp_path: Path, *args: str, asgi: str = INMEMORY,
                 env: dict[str, str] | None = None, wait: bool = True,
                 pass_fds: tuple[int, ...] = ()) -> RunningServer:
    """Run ``python -m interface_server ASGI ARGS`` and wait until it listens."""
    control_file = tmp_path / f"control-{time.monotonic_ns()}"
    environment = {**os.environ, "IS_TEST_CONTROL_FILE": str(control_file),
                   "PYTHONUNBUFFERED": "1", **(env or {})}
    if not env or "PORT" not in env:
        environment.pop("PORT", None)
    command = [sys.executable, "-m", "interface_server", asgi, *args]
    if not any(a in args for a in ("-p", "--port", "-u", "-e", "--fd", "-b")) and not (
            env and "PORT" in env):
        command += ["-p", "0"]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, pass_fds=pass_fds)
    server = RunningServer(process, control_file)
    if wait and (not server.ready.wait(30) or process.poll() is not None):
        server.kill()
        raise RuntimeError("interface server did not start:\n" + "\n".join(server.stderr))
    return server


def raw_exchange(sock: socket.socket, data: bytes, until: bytes | None = None,
                 timeout: float = 10) -> bytes:
    """Send ``data`` and read until ``until`` appears or the peer closes."""
    sock.settimeout(timeout)
    if data:
        sock.sendall(data)
    received = b""
    while until is None or until not in received:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


class ResponseReader:
    """Reads successive HTTP responses (with Content-Length, or until close) from a socket."""

    def __init__(self, sock: socket.socket, timeout: float = 10) -> None:
        self.sock = sock
        self.buffer = b""
        sock.settimeout(timeout)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def read(self) -> tuple[bytes, bytes]:
        """``(head, body)`` of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                head, self.buffer = self.buffer, b""
                return head, b""
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if head.split(b" ")[1] in (b"204", b"304"):
            length = 0
        while length is None or len(self.buffer) < length:
            if not self._fill():
                break
        if length is None:
            body, self.buffer = self.buffer, b""
        else:
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return head, body


def read_response(sock: socket.socket, timeout: float = 10) -> tuple[bytes, bytes]:
    """Read one HTTP response from a socket used for one exchange only."""
    return ResponseReader(sock, timeout).read()


class RawWebSocket:
    """A minimal WebSocket client on a raw socket, able to send malformed frames."""

    def __init__(self, server: RunningServer, path: str = "/ws", headers: bytes = b"",
                 timeout: float = 10) -> None:
        from tests.interface_server.harness import upgrade_request

        self.sock = server.connect(timeout)
        self.sock.settimeout(timeout)
        self.sock.sendall(upgrade_request(path, headers))
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        self.head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")

    @property
    def accepted(self) -> bool:
        return self.head.startswith(b"HTTP/1.1 101 ")

    def send(self, payload: bytes, opcode: int = 1, **kwargs: Any) -> None:
        from tests.interface_server.harness import client_frame

        self.sock.sendall(client_frame(payload, opcode, **kwargs))

    def recv(self) -> tuple[int, bytes] | None:
        """The next server frame, or None when the connection closed."""
        import struct

        def need(count: int) -> bool:
            while len(self.buffer) < count:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    return False
                if not chunk:
                    return False
                self.buffer += chunk
            return True

        if not need(2):
            return None
        size = self.buffer[1] & 0x7F
        offset = 2
        if size == 126:
            if not need(4):
                return None
            size = struct.unpack("!H", self.buffer[2:4])[0]
            offset = 4
        elif size == 127:
            if not need(10):
                return None
            size = struct.unpack("!Q", self.buffer[2:10])[0]
            offset = 10
        if not need(offset + size):
            return None
        opcode = self.buffer[0] & 0x0F
        payload = self.buffer[offset:offset + size]
        self.buffer = self.buffer[offset + size:]
        return opcode, payload

    def recv_close_code(self) -> int | None:
        """Read frames until the close frame; return its code (None if the TCP just ended)."""
        import struct

        while True:
            frame = self.recv()
            if frame is None:
                return None
            if frame[0] == 8:
                return struct.unpack("!H", frame[1][:2])[0] if len(frame[1]) >= 2 else 1005

    def close(self) -> None:
        self.sock.close()
