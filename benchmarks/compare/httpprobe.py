"""Sequential HTTP requests on one keep-alive connection: the idle-latency probe."""

from __future__ import annotations

import socket
import time

__all__ = ["ProbeError", "read_response", "sequential_requests"]


class ProbeError(RuntimeError):
    """The server answered something unusable (or nothing)."""


def read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bytes, bool, bytes]:
    """Read one response: ``(status, body, keep_alive, rest of the buffer)``.

    Handles Content-Length, chunked and until-close bodies.

    Raises:
        ProbeError: the connection closed before a complete response.
    """

    def fill() -> bool:
        nonlocal buffer
        chunk = sock.recv(65536)
        buffer += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in buffer:
        if not fill():
            raise ProbeError("connection closed before the response head")
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        raise ProbeError(f"bad status line {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    keep_alive = headers.get(b"connection") != b"close"
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(buffer) < length:
            if not fill():
                raise ProbeError("connection closed inside the body")
        return status, buffer[:length], keep_alive, buffer[length:]
    if headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            while b"\r\n" not in buffer:
                if not fill():
                    raise ProbeError("connection closed inside a chunk size")
            size_line, _, buffer = buffer.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buffer) < size + 2:
                if not fill():
                    raise ProbeError("connection closed inside a chunk")
            body += buffer[:size]
            buffer = buffer[size + 2:]
            if size == 0:
                return status, body, keep_alive, buffer
    while fill():
        pass
    return status, buffer, False, b""


def sequential_requests(host: str, port: int, path: str, *, count: int,
                        max_seconds: float) -> tuple[list[float], int]:
    """Send ``GET path`` ``count`` times, one after the other (at most ``max_seconds``).

    Returns the latencies in ms of the successful (2xx) requests and how many failed.
    """
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "User-Agent: bench-probe\r\n\r\n").encode()
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + max_seconds
    sock: socket.socket | None = None
    buffer = b""
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            if sock is None:
                sock = socket.create_connection((host, port), timeout=10)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = b""
            started = time.perf_counter()
            try:
                sock.sendall(request)
                status, _, keep_alive, buffer = read_response(sock, buffer)
            except (OSError, ProbeError):
                failures += 1
                sock.close()
                sock = None
                continue
            if 200 <= status < 300:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
            if not keep_alive:
                sock.close()
                sock = None
    finally:
        if sock is not None:
            sock.close()
    return latencies, failures
