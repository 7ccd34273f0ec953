"""Channel-layer benchmark: throughput and Redis commands per operation.

Starts its own redis-server(s) on free loopback ports (tests/support/redis_server.py), runs
each workload against the in-memory layer and the Redis layer, and prints a Markdown table::

    python benchmarks/layer_bench.py            # about a minute
    python benchmarks/layer_bench.py --quick    # smaller counts, for a smoke run

"commands/op" are the commands clients sent, from ``INFO commandstats`` (``EVALSHA`` and
``BLMPOP`` calls divided by operations); commands run *inside* the Lua scripts are reported
separately as "in-script", since they cost no round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from channels_classic.layers import BaseChannelLayer, InMemoryChannelLayer
from channels_classic.layers.redis import RedisChannelLayer
from tests.support.redis_server import RedisServer, start_redis

#: Commands a client can send (the round trips); everything else in commandstats ran in Lua.
CLIENT_COMMANDS = ("evalsha", "blmpop")
MESSAGE = {"type": "websocket.send", "text": "x" * 100, "bytes": b"\x00" * 20, "n": 1}


@dataclass
class Row:
    """One line of the result table."""

    workload: str
    layer: str
    rate: str
    commands: str = ""
    in_script: str = ""


class Counter:
    """Reads and resets ``INFO commandstats`` on a set of servers."""

    def __init__(self, servers: list[RedisServer]) -> None:
        self.clients = [redis.Redis.from_url(server.url) for server in servers]

    def reset(self) -> None:
        for client in self.clients:
            client.config_resetstat()

    def read(self) -> tuple[int, int]:
        """(client commands, commands run inside scripts) since the last reset."""
        client_calls = script_calls = 0
        for client in self.clients:
            for name, value in client.info("commandstats").items():
                command = name.removeprefix("cmdstat_")
                calls = int(value["calls"])
                if command in CLIENT_COMMANDS:
                    client_calls += calls
                elif command not in ("info", "config|resetstat"):
                    script_calls += calls
        return client_calls, script_calls

    def close(self) -> None:
        for client in self.clients:
            client.close()


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def per_op(calls: int, operations: int) -> str:
    return f"{calls / operations:.2f}"


def timed(action: Callable[[], Any]) -> float:
    begin = time.perf_counter()
    action()
    return time.perf_counter() - begin


def send_receive(layer: BaseChannelLayer, count: int, batch: int) -> tuple[float, float]:
    """Seconds to send ``count`` messages one by one, then to receive them all."""
    def send() -> None:
        for _ in range(count):
            layer.send("bench.channel", MESSAGE)

    def receive() -> None:
        got = 0
        while got < count:
            got += len(layer.fetch(["bench.channel"], block=True, max_messages=batch))

    return timed(send), timed(receive)


def run_send_receive(
    rows: list[Row], name: str, layer: BaseChannelLayer, count: int, counter: Counter | None,
    repeats: int,
) -> None:
    for batch in (1, 100):
        if counter:
            counter.reset()
        # Best of several runs: the machine may be shared, and the best run is the one least
        # disturbed by other processes.
        runs = [send_receive(layer, count, batch) for _ in range(repeats)]
        send_time, receive_time = min(runs, key=sum)
        count_all = count * repeats
        label = "send + receive" + (f" (receive batches of {batch})" if batch > 1 else "")
        commands = in_script = ""
        if counter:
            client_calls, script_calls = counter.read()
            operations = count_all + (count_all if batch == 1 else count_all // batch)
            commands = per_op(client_calls, operations)
            in_script = per_op(script_calls, operations)
        rows.append(Row(label, name, rate(count, send_time + receive_time), commands, in_script))
        if batch == 1:
            rows.append(Row("  send only", name, rate(count, send_time)))
        rows.append(Row(f"  receive only (blocking, batches of {batch})", name,
                        rate(count, receive_time)))
    if counter:
        counter.reset()
    best = min((batched_round_trip(layer, count) for _ in range(repeats)), key=sum)
    commands = in_script = ""
    if counter:
        client_calls, script_calls = counter.read()
        # Per message: 100 EVALSHAs share one pipelined round trip, one BLMPOP takes 100.
        operations = repeats * count
        commands = per_op(client_calls, operations) + " (pipelined)"
        in_script = per_op(script_calls, operations)
    rows.append(Row("send_many + fetch, batches of 100", name, rate(count, sum(best)),
                    commands, in_script))


def batched_round_trip(layer: BaseChannelLayer, count: int) -> tuple[float, float]:
    """Seconds to send ``count`` messages with send_many(100), then to fetch them by 100."""
    items = [("bench.batched", MESSAGE)] * 100

    def send() -> None:
        for _ in range(count // 100):
            assert layer.send_many(items) == [None] * 100

    def receive() -> None:
        got = 0
        while got < count:
            got += len(layer.fetch(["bench.batched"], block=True, max_messages=100))

    return timed(send), timed(receive)


def run_baseline(rows: list[Row], server: RedisServer, count: int, repeats: int) -> None:
    """What redis-py itself manages on this machine: the ceiling for one thread."""
    client = redis.Redis.from_url(server.url)
    try:
        client.ping()
        best = min(timed(lambda: [client.execute_command("PING") for _ in range(count)])
                   for _ in range(repeats))
        rows.append(Row("baseline: redis-py PING, one thread", "redis", rate(count, best), "1.00"))
    finally:
        client.close()


def run_async_round_trips(rows: list[Row], name: str, layer: BaseChannelLayer,
                          count: int) -> None:
    async def body() -> float:
        begin = time.perf_counter()
        for _ in range(count):
            await layer.send_async("bench.async", MESSAGE)
            await layer.fetch_async(["bench.async"])
        elapsed = time.perf_counter() - begin
        closer = getattr(layer, "close_async", None)
        if closer is not None:
            await closer()
        return elapsed

    rows.append(Row("async send + fetch_async round trip", name,
                    rate(count, asyncio.run(body()))))


def run_group(rows: list[Row], name: str, layer: BaseChannelLayer, members: int, sends: int,
              counter: Counter | None, shards: int = 1) -> None:
    group = f"bench.room{members}"
    prefixes = [f"bench.daphne{index}!" for index in range(10)]
    for index in range(members):
        layer.group_add(group, f"{prefixes[index % 10]}c{index}")
    if counter:
        counter.reset()
    def broadcast() -> None:
        for _ in range(sends):
            layer.send_group(group, MESSAGE)

    elapsed = timed(broadcast)
    commands = in_script = ""
    if counter:
        client_calls, script_calls = counter.read()
        commands = per_op(client_calls, sends) + (f" ({shards} shards)" if shards > 1 else "")
        in_script = per_op(script_calls, sends)
    label = f"group send to {members:,} members" + (f", {shards} shards" if shards > 1 else "")
    rows.append(Row(label, name,
                    f"{sends / elapsed:,.0f} sends/s = {sends * members / elapsed:,.0f} msgs/s",
                    commands, in_script))
    for prefix in prefixes:
        while layer.fetch([prefix], max_messages=10_000):
            pass


def run_receive_commands(rows: list[Row], layer: RedisChannelLayer, counter: Counter,
                         count: int) -> None:
    for _ in range(count):
        layer.send("bench.nb", MESSAGE)
    counter.reset()
    for _ in range(count):
        layer.fetch(["bench.nb", "bench.other", "bench.proc!"])
    client_calls, script_calls = counter.read()
    rows.append(Row("receive, non-blocking (3 channels)", "redis", "",
                    per_op(client_calls, count), per_op(script_calls, count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    count = 2_000 if args.quick else 10_000
    group_sends = 20 if args.quick else 200
    repeats = 1 if args.quick else 3

    servers = [start_redis() for _ in range(3)]
    rows: list[Row] = []
    try:
        version = redis.Redis.from_url(servers[0].url).info("server")["redis_version"]
        single = Counter(servers[:1])
        sharded = Counter(servers)
        memory = InMemoryChannelLayer(capacity=count, process_channel_capacity=100_000)
        one = RedisChannelLayer(hosts=[servers[0].url], capacity=count,
                                process_channel_capacity=100_000)
        no_stats = RedisChannelLayer(hosts=[servers[0].url], capacity=count,
                                     process_channel_capacity=100_000, statistics=False,
                                     prefix="nostats:", stats_prefix="nostats-meta:")
        three = RedisChannelLayer(hosts=[s.url for s in servers], capacity=count,
                                  process_channel_capacity=100_000, prefix="sharded:",
                                  stats_prefix="sharded-meta:")
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() \
            else "?"
        for layer in (one, no_stats, three):  # load scripts, check versions
            layer.send("warm", {"n": 0})
            layer.fetch(["warm"], block=True)
            layer.send_group("warm", {"n": 0})

        run_baseline(rows, servers[0], count, repeats)
        run_send_receive(rows, "in-memory", memory, count, None, repeats)
        run_send_receive(rows, "redis", one, count, single, repeats)
        run_send_receive(rows, "redis, statistics=False", no_stats, count, single, repeats)
        run_send_receive(rows, "redis, 3 shards", three, count, sharded, repeats)
        run_receive_commands(rows, one, single, min(count, 5_000))
        run_async_round_trips(rows, "in-memory", memory, count // 4)
        run_async_round_trips(rows, "redis", one, count // 4)
        for members in (100, 1_000):
            run_group(rows, "in-memory", memory, members, group_sends, None)
            run_group(rows, "redis", one, members, group_sends, single)
        run_group(rows, "redis, 3 shards", three, 1_000, group_sends, sharded, shards=3)
        for layer in (one, no_stats, three):
            layer.close()
        single.close()
        sharded.close()
    finally:
        for server in servers:
            server.close()

    print(f"Channel layer benchmark — Python {sys.version.split()[0]}, redis-server {version}, "
          f"redis-py {redis.__version__}, {count:,} messages of ~150 bytes, best of "
          f"{repeats}, load average {load} on {os.cpu_count()} CPUs at start\n")
    print("| workload | layer | throughput | client commands/op | in-script commands/op |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.workload} | {row.layer} | {row.rate} | {row.commands} | "
              f"{row.in_script} |")


if __name__ == "__main__":
    main()
