"""Start and stop real ``redis-server`` processes on free loopback ports.

Used by the test fixtures and by the benchmarks.  Each server runs with persistence off in its
own temporary directory and is killed when stopped; ``restart()`` brings it back on the same
port, which is how the reconnection tests simulate a Redis outage.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """Path of ``redis-server``; a clear error when it is not installed."""
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server is not on PATH; install it (apt-get install redis-server) "
            "or run ./scripts/test, which installs it"
        )
    return path


class RedisServer:
    """One ``redis-server`` child process bound to 127.0.0.1 on a free port."""

    def __init__(self, port: int | None = None, extra_args: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.directory = Path(tempfile.mkdtemp(prefix="cc-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def host(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        args = [
            redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--loglevel", "warning",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                if self.process.poll() is not None:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"redis-server exited at start: {err.strip()}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {self.port}")
                # Waiting for a child process to open its port; nothing to subscribe to.
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server (like a crash: no save, clients see the connection drop)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            if self.process.stderr is not None:
                self.process.stderr.close()
        self.process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Kill the server, stay down for ``down_for`` seconds, start it on the same port."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_redis(extra_args: list[str] | None = None, attempts: int = 5) -> RedisServer:
    """Start a server on a free port, retrying if another process grabbed the port first."""
    last: Exception | None = None
    for _ in range(attempts):
        server = RedisServer(extra_args=extra_args)
        try:
            return server.start()
        except RuntimeError as exc:
            server.close()
            last = exc
    raise RuntimeError(f"could not start redis-server: {last}")
