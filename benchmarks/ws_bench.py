"""WebSocket echo benchmark of the interface server: round trips per second, latency
percentiles, idle latency and Redis round trips per echo.

Starts everything itself (see ``http_bench.py`` for the two layers) and prints a Markdown
table::

    python benchmarks/ws_bench.py                     # in-memory and Redis, 10 s per run
    python benchmarks/ws_bench.py --connections 50 --duration 15 --runs 3

The client is a small asyncio WebSocket client (masked text frames, one outstanding message
per connection): each connection sends a 32-byte message, waits for the echo, and repeats.
A final row opens 256 sockets at once at default settings and reports how many were refused
(503/1013), the situation in which the original stack closed thousands of sockets with 1013.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import stack

PAYLOAD = b"x" * 32


class Client:
    """One WebSocket connection speaking just enough of RFC 6455."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str = "/ws/echo") -> Client:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionRefusedError(head.split(b"\r\n")[0].decode())
        return cls(reader, writer)

    def send(self, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.writer.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)

    async def recv(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return first & 0x0F, await self.reader.readexactly(size)

    def close(self) -> None:
        self.writer.close()


async def echo_load(host: str, port: int, connections: int, duration: float
                    ) -> tuple[int, list[float]]:
    """Run the echo loop on ``connections`` sockets; return (round trips, latencies ms)."""
    clients = await asyncio.gather(*(Client.connect(host, port) for _ in range(connections)))
    latencies: list[float] = []
    stop = time.perf_counter() + duration

    async def loop(client: Client) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            client.send(PAYLOAD)
            opcode, data = await client.recv()
            if opcode != 1 or data != PAYLOAD:
                raise RuntimeError(f"unexpected frame {opcode} {data[:20]!r}")
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(loop(client) for client in clients))
    for client in clients:
        client.close()
    return len(latencies), latencies


async def idle_latency(host: str, port: int, count: int = 300) -> float:
    """Median echo latency (ms) on one socket, one message at a time."""
    client = await Client.connect(host, port)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.send(PAYLOAD)
        await client.recv()
        samples.append((time.perf_counter() - started) * 1000)
    client.close()
    return statistics.median(samples[count // 10:])


async def burst(host: str, port: int, count: int) -> tuple[int, int]:
    """Open ``count`` sockets at once and echo once on each; (served, refused or failed)."""

    async def one(index: int) -> bool:
        try:
            client = await asyncio.wait_for(Client.connect(host, port, f"/ws/b{index}"), 60)
            client.send(PAYLOAD)
            opcode, _ = await asyncio.wait_for(client.recv(), 60)
            client.close()
            return opcode == 1
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return False

    results = await asyncio.gather(*(one(i) for i in range(count)))
    return sum(results), count - sum(results)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", default=["inmemory", "redis"],
                        choices=["inmemory", "redis"])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--apps", type=int, default=1, help="app processes (Redis only)")
    parser.add_argument("--burst", type=int, default=256)
    args = parser.parse_args()

    rows = []
    for layer in args.layers:
        rates: list[float] = []
        p50s: list[float] = []
        p90s: list[float] = []
        p99s: list[float] = []
        idles: list[float] = []
        per_echo: list[float] = []
        with stack(layer, apps=args.apps) as running:
            host, port = running.server.host, running.server.port
            asyncio.run(echo_load(host, port, args.connections, 1))  # warm-up
            for _ in range(args.runs):
                before = running.redis_commands()
                count, latencies = asyncio.run(
                    echo_load(host, port, args.connections, args.duration))
                after = running.redis_commands()
                rates.append(count / args.duration)
                p50s.append(percentile(latencies, 0.5))
                p90s.append(percentile(latencies, 0.9))
                p99s.append(percentile(latencies, 0.99))
                if running.redis is not None:
                    per_echo.append((after - before) / max(count, 1))
                idles.append(asyncio.run(idle_latency(host, port)))
            served, refused = asyncio.run(burst(host, port, args.burst))
        rows.append((layer, statistics.median(rates), statistics.median(p50s),
                     statistics.median(p90s), statistics.median(p99s), statistics.median(idles),
                     statistics.median(per_echo) if per_echo else None, served, refused))

    print(f"\nWebSocket echo, {args.connections} connections, {args.duration:g} s x {args.runs} "
          "run(s) (medians)\n")
    print("| layer | round trips/s | p50 ms | p90 ms | p99 ms | idle p50 ms | Redis cmds/echo "
          f"| {args.burst} sockets: served, refused |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for layer, rate, p50, p90, p99, idle, commands, served, refused in rows:
        per = f"{commands:.2f}" if commands is not None else "0"
        print(f"| {layer} | {rate:,.0f} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {idle:.2f} | {per} "
              f"| {served}, {refused} |")


if __name__ == "__main__":
    main()
