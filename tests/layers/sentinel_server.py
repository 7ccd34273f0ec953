"""A real Redis Sentinel (``redis-server <conf> --sentinel``) for the Sentinel layer tests."""

from __future__ import annotations

import subprocess
import time

import redis

from tests.support.redis_server import RedisServer, redis_server_binary


class SentinelServer(RedisServer):
    """A Sentinel on a free port monitoring one master as ``service``."""

    def __init__(self, master_port: int, service: str = "mymaster") -> None:
        super().__init__()
        self.master_port = master_port
        self.service = service

    def start(self, timeout: float = 10.0) -> SentinelServer:
        """Write the config (Sentinel rewrites it, so it lives in our directory) and start."""
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.service} 1000\n"
            f"sentinel failover-timeout {self.service} 5000\n"
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(config), "--sentinel", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                if self.process.poll() is not None:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"redis sentinel exited at start: {err.strip()}")
                try:
                    if self.service in client.sentinel_masters():
                        return self
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sentinel on port {self.port} did not come up")
                # Waiting for a child process to open its port; nothing to subscribe to.
                time.sleep(0.02)
        finally:
            client.close()
