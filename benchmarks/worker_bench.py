"""Worker throughput: messages/s through ``runworker`` for a trivial consumer, and Redis
commands per message.

Starts a private redis-server and real ``runworker`` processes (the test project in
``tests/workerapp``), then keeps ``--window`` messages in flight on ``test.echo``: each is
consumed by a worker, which replies on a process-local channel the benchmark drains.  So one
"message" is a full round trip: send, worker receive, reply send, reply receive.

    python benchmarks/worker_bench.py [--duration 5] [--window 64]

Prints one table row per configuration.  Redis figures come from ``INFO commandstats`` and
include the benchmark's own sends and receives: "round trips" counts the commands clients
issue (``EVALSHA``, ``BLMPOP``...), "commands" also counts those run inside the Lua scripts.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from channels_classic.layers import new_process_prefix  # noqa: E402
from channels_classic.layers.redis import RedisChannelLayer  # noqa: E402
from tests.support.redis_server import start_redis  # noqa: E402
from tests.worker.procs import CommandProcess  # noqa: E402

#: Commands a client sends itself; everything else in commandstats ran inside a Lua script.
CLIENT_COMMANDS = {"evalsha", "eval", "blmpop", "blpop", "brpop", "lpop", "rpush", "ping",
                   "hello", "client|setinfo", "script|load", "select", "info"}
#: Of those, the ones the layer also calls from its scripts (never directly in this run).
SCRIPT_TOO = {"lpop", "rpush"}

CONFIGURATIONS = [
    ("1 process, 1 thread", 1, 1),
    ("2 processes, 1 thread each", 2, 1),
    ("1 process, --threads 4", 1, 4),
    ("2 processes, --threads 4 each", 2, 4),
]


def command_stats(client) -> dict[str, int]:
    """``{command: calls}`` from INFO commandstats."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def run_configuration(url: str, processes: int, threads: int, duration: float, window: int,
                      db: str) -> tuple[float, float, dict[str, float]]:
    env = {"CC_TEST_REDIS_URL": url, "CC_TEST_DB": db}
    workers = [
        CommandProcess(["runworker", "--threads", str(threads), "-v", "1",
                        "--only-channels", "test.echo"], env)
        for _ in range(processes)
    ]
    layer = RedisChannelLayer(hosts=[url], receive_timeout=1.0)
    try:
        for worker in workers:
            worker.wait_for(r"Worker started with")
        prefix = new_process_prefix("bench")
        reply = prefix + "r"

        def pump(seconds: float) -> int:
            outstanding = done = sent = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if outstanding < window:
                    batch = [("test.echo", {"reply_channel": reply, "n": sent + i})
                             for i in range(window - outstanding)]
                    errors = layer.send_many(batch)
                    ok = sum(1 for error in errors if error is None)
                    sent += len(batch)
                    outstanding += ok
                got = len(layer.fetch([prefix], block=True, max_messages=window))
                outstanding -= got
                done += got
            while outstanding:  # drain, so the next measurement starts clean
                got = len(layer.fetch([prefix], block=True, max_messages=window))
                assert got, "replies stopped arriving"
                outstanding -= got
            return done

        pump(min(1.0, duration / 3))  # warm-up: connections, script loading, imports
        import redis

        admin = redis.Redis.from_url(url)
        admin.config_resetstat()
        started = time.monotonic()
        done = pump(duration)
        elapsed = time.monotonic() - started
        stats = command_stats(admin)
        stats.pop("config|resetstat", None)
        stats.pop("info", None)
        admin.close()
        per_message = {name: calls / done for name, calls in stats.items() if calls}
        return done / elapsed, per_message
    finally:
        layer.close()
        for worker in workers:
            worker.signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per configuration")
    parser.add_argument("--window", type=int, default=64, help="messages kept in flight")
    args = parser.parse_args()
    server = start_redis()
    db = str(server.directory / "bench.sqlite3")
    try:
        rows = []
        for label, processes, threads in CONFIGURATIONS:
            rate, breakdown = run_configuration(
                server.url, processes, threads, args.duration, args.window, db
            )
            trips = {name: value for name, value in breakdown.items()
                     if name in CLIENT_COMMANDS and name not in SCRIPT_TOO}
            detail = ", ".join(f"{name} {value:.2f}" for name, value in
                               sorted(trips.items(), key=lambda item: -item[1]))
            rows.append((label, rate, sum(trips.values()), sum(breakdown.values()), detail))
        print(f"\nTrivial consumer, window {args.window}, {args.duration:.0f} s per row, "
              f"{os.cpu_count()} CPUs; Redis figures per message, both directions")
        print(f"| {'configuration':<30} | {'messages/s':>10} | {'round trips':>11} | "
              f"{'commands (incl. Lua)':>20} | round trips by command |")
        print(f"|{'-' * 32}|{'-' * 12}|{'-' * 13}|{'-' * 22}|{'-' * 24}|")
        for label, rate, trips_total, commands, detail in rows:
            print(f"| {label:<30} | {rate:>10,.0f} | {trips_total:>11.2f} | {commands:>20.2f} "
                  f"| {detail} |")
    finally:
        server.close()


if __name__ == "__main__":
    main()
