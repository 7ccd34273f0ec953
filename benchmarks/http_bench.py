"""HTTP benchmark of the interface server with wrk: throughput, latency percentiles, and Redis
round trips per request.

Starts everything itself on free loopback ports and prints a Markdown table::

    python benchmarks/http_bench.py                   # in-memory and Redis, 10 s per run
    python benchmarks/http_bench.py --duration 15 --connections 50 --runs 3
    python benchmarks/http_bench.py --layers redis --apps 2

The application is trivial (``GET /hello`` → 13 bytes) so the numbers measure the server and
the layer, not a framework:

* ``inmemory``: the app runs as a thread inside the server process, on the in-memory layer
  (what ``runserver`` does);
* ``redis``: a real redis-server, the server process, and ``--apps`` app processes consuming
  ``http.request`` from Redis (the production shape).

"idle p50" is the latency of one request at a time on one keep-alive connection: it shows
that nothing polls (the original stack's floor was a 50 ms reply-channel poll).
"Redis cmds/req" counts the commands clients sent to Redis per request (``EVALSHA`` and
``BLMPOP`` from ``INFO commandstats``; the server pipelines its sends, so round trips are
fewer still).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.interface_server.e2e import INMEMORY, RunningServer, start_server  # noqa: E402
from tests.support.redis_server import RedisServer, start_redis  # noqa: E402

REDIS_ASGI = "tests.interface_server.support.redis_asgi:channel_layer"


@dataclass
class Stack:
    """A running server (and, for Redis, the app processes and redis-server)."""

    server: RunningServer
    redis: RedisServer | None
    apps: list[subprocess.Popen[bytes]]

    def redis_commands(self) -> int:
        """Commands clients sent so far (``EVALSHA`` and ``BLMPOP``; what runs inside the
        Lua scripts costs no round trip and is not counted)."""
        if self.redis is None:
            return 0
        stats = self.redis.client().info("commandstats")
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
                   for name in ("evalsha", "blmpop"))


@contextmanager
def stack(layer: str, apps: int = 1, server_args: tuple[str, ...] = ()) -> Iterator[Stack]:
    """Start the server with the trivial app on ``layer`` (``inmemory`` or ``redis``)."""
    directory = Path(tempfile.mkdtemp(prefix="is-bench-"))
    redis: RedisServer | None = None
    processes: list[subprocess.Popen[bytes]] = []
    server: RunningServer | None = None
    try:
        if layer == "inmemory":
            server = start_server(directory, "--access-log", "/dev/null", *server_args,
                                  asgi=INMEMORY)
        else:
            redis = start_redis()
            for index in range(apps):
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "tests.interface_server.support.app_process",
                     redis.url, str(directory / f"app{index}")],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            server = start_server(directory, "--access-log", "/dev/null", *server_args,
                                  asgi=REDIS_ASGI, env={"IS_TEST_REDIS_URL": redis.url})
            deadline = time.monotonic() + 20
            while not all((directory / f"app{index}").exists() for index in range(apps)):
                if time.monotonic() > deadline:
                    raise RuntimeError("app processes did not start")
                time.sleep(0.05)
        yield Stack(server, redis, processes)
    finally:
        if server is not None:
            server.kill()
        for process in processes:
            process.terminate()
            process.wait(10)
        if redis is not None:
            redis.close()
        shutil.rmtree(directory, ignore_errors=True)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    """What one wrk run measured."""

    rps: float
    p50: float
    p90: float
    p99: float
    requests: int
    errors: int


def run_wrk(url: str, duration: float, connections: int, threads: int = 2) -> WrkResult:
    """Run wrk and parse its ``--latency`` output."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
         "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, flags=re.M))
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests_match = re.search(r"(\d+) requests in", output)
    if rps_match is None or requests_match is None:
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    rps = float(rps_match.group(1))
    requests = int(requests_match.group(1))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(rps, _ms(percentiles["50"]), _ms(percentiles["90"]),
                     _ms(percentiles["99"]), requests, errors)


def idle_latency(host: str, port: int, count: int = 300) -> float:
    """Median latency (ms) of sequential requests on one keep-alive connection."""
    request = f"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    samples = []
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(request)
            data = b""
            while not data.endswith(b"Hello, world!"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("connection closed")
                data += chunk
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[count // 10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", nargs="+", default=["inmemory", "redis"],
                        choices=["inmemory", "redis"])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1, help="runs per layer; medians reported")
    parser.add_argument("--apps", type=int, default=1, help="app processes (Redis only)")
    parser.add_argument("--burst", type=int, default=256,
                        help="connections for the default-settings overload row")
    args = parser.parse_args()

    rows = []
    for layer in args.layers:
        results: list[WrkResult] = []
        idle: list[float] = []
        per_request: list[float] = []
        with stack(layer, apps=args.apps) as running:
            url = running.server.url("/hello")
            run_wrk(url, 2, args.connections)  # warm-up
            for _ in range(args.runs):
                before = running.redis_commands()
                result = run_wrk(url, args.duration, args.connections)
                after = running.redis_commands()
                results.append(result)
                if running.redis is not None:
                    per_request.append((after - before) / max(result.requests, 1))
                idle.append(idle_latency(running.server.host, running.server.port))
            burst = run_wrk(url, max(args.duration / 2, 3), args.burst)
        rows.append((
            layer,
            statistics.median(r.rps for r in results),
            statistics.median(r.p50 for r in results),
            statistics.median(r.p90 for r in results),
            statistics.median(r.p99 for r in results),
            sum(r.errors for r in results),
            statistics.median(idle),
            statistics.median(per_request) if per_request else None,
            burst,
        ))

    print(f"\nHTTP GET /hello, {args.connections} connections, {args.duration:g} s x "
          f"{args.runs} run(s), wrk -t2 (medians)\n")
    print("| layer | req/s | p50 ms | p90 ms | p99 ms | errors | idle p50 ms | Redis cmds/req "
          f"| {args.burst} conns: req/s, non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for layer, rps, p50, p90, p99, errors, idle_p50, cmds, burst in rows:
        commands = f"{cmds:.2f}" if cmds is not None else "0"
        print(f"| {layer} | {rps:,.0f} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {errors} | "
              f"{idle_p50:.2f} | {commands} | {burst.rps:,.0f}, {burst.errors} |")


if __name__ == "__main__":
    main()
