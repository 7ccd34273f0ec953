"""The workloads and one measurement of one workload on one stack.

A measurement runs the load client (wrk or ``wsload.py``) against a stack and records, for
the window the client ran in: throughput, latency percentiles, errors, lost messages, CPU of
every process of the stack (``/proc/<pid>/stat``), CPU of the client, Redis commands per
operation (``INFO commandstats``) and the warning/error lines the components logged.  Then,
with no load, it measures idle latency (one connection, one request or message at a time)
and, when asked, Redis round trips per operation (``MONITOR`` during a short sequential
probe).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import wrk
from .httpprobe import sequential_requests
from .procs import cpu_seconds
from .redisstats import Monitor, command_calls, delta, reads_processed
from .stacks import Stack

__all__ = ["WORKLOADS", "LoadSpec", "Measurement", "Runner", "Workload"]

WSLOAD = Path(__file__).resolve().parent / "wsload.py"


@dataclass(frozen=True)
class Workload:
    """One of the compared workloads."""

    key: str
    title: str
    kind: str  # "http", "echo" or "chat"
    path: str
    unit: str


WORKLOADS: dict[str, Workload] = {
    "view": Workload("view", "HTTP GET /hello through a Django view", "http", "/hello", "req/s"),
    "raw": Workload("raw", "HTTP raw http.request consumer", "http", "/raw", "req/s"),
    "echo": Workload("echo", "WebSocket echo", "echo", "/ws/echo/", "round trips/s"),
    "chat": Workload("chat", "Chat rooms (group broadcast)", "chat", "/chat/", "deliveries/s"),
}


@dataclass(frozen=True)
class LoadSpec:
    """How hard and how long to push.

    ``connections`` is for HTTP and echo; chat uses ``rooms`` x ``members`` connections.
    """

    duration: float
    connections: int = 50
    rooms: int = 10
    members: int = 10
    count_statuses: bool = False


@dataclass
class Measurement:
    """What one run of one workload on one stack measured (None: not measured)."""

    stack: str
    workload: str
    label: str  # "run 1", "warm-up", "256 connections", ...
    ops: int = 0
    seconds: float = 0.0
    rate: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    lost: int | None = None
    duplicated: int | None = None
    messages: int | None = None
    idle_p50: float | None = None
    idle_p99: float | None = None
    idle_failures: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: float | None = None
    redis_per_op: float | None = None
    redis_breakdown: dict[str, float] = field(default_factory=dict)
    round_trips_under_load: float | None = None
    round_trips_per_op: float | None = None
    client_commands_per_op: float | None = None
    round_trip_breakdown: dict[str, float] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)
    failure: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        """All errors of the run."""
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


class Runner:
    """Runs measurements with the load clients.

    Args:
        client_python: interpreter for ``wsload.py`` (the benchmark virtualenv's, with uvloop).
        directory: where scratch files (the wrk Lua script) go.
        wrk_threads: wrk ``-t``.
    """

    def __init__(self, client_python: str, directory: Path, wrk_threads: int = 2) -> None:
        self.client_python = client_python
        self.directory = directory
        self.wrk_threads = wrk_threads
        self._status_script: Path | None = None

    # -- load clients ----------------------------------------------------------------------

    def _client_command(self, stack: Stack, workload: Workload, load: LoadSpec) -> list[str]:
        if workload.kind == "http":
            script = None
            if load.count_statuses:
                if self._status_script is None:
                    self._status_script = wrk.status_script(self.directory)
                script = self._status_script
            return wrk.wrk_command(f"http://{stack.host}:{stack.port}{workload.path}",
                                   duration=load.duration, connections=load.connections,
                                   threads=self.wrk_threads, script=script)
        common = ["--port", str(stack.port), "--host", stack.host,
                  "--duration", str(load.duration)]
        if workload.kind == "echo":
            return [self.client_python, str(WSLOAD), "echo", *common, "--path", workload.path,
                    "--connections", str(load.connections)]
        return [self.client_python, str(WSLOAD), "chat", *common, "--rooms", str(load.rooms),
                "--members", str(load.members)]

    def _run_client(self, command: list[str], time_limit: float
                    ) -> tuple[str, str, int, float]:
        """Run a client; returns (stdout, stderr, exit status, its CPU seconds)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, stdin=subprocess.DEVNULL)
        try:
            stdout, stderr = process.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += f"\n(killed after {time_limit:.0f} s)"
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return stdout, stderr, process.returncode, used

    # -- one measurement -------------------------------------------------------------------

    def measure(self, stack: Stack, workload: Workload, load: LoadSpec, label: str, *,
                idle_probe: bool = True, monitor_probe: bool = False) -> Measurement:
        """Load ``stack`` with ``workload`` for ``load.duration`` seconds and measure."""
        result = Measurement(stack.name, workload.key, label)
        down = stack.dead()
        if down:
            result.failure = f"not run: {', '.join(down)} not running"
            return result
        pids = stack.pids()
        marks = stack.log_marks()
        redis_client = stack.redis.client()
        try:
            calls_before = command_calls(redis_client)
            reads_before = reads_processed(redis_client)
            cpu_before = {label_: cpu_seconds(pid) for label_, pid in pids.items()}
            started = time.perf_counter()
            command = self._client_command(stack, workload, load)
            stdout, stderr, status, client_cpu = self._run_client(
                command, time_limit=load.duration + 90)
            elapsed = time.perf_counter() - started
            cpu_after = {label_: cpu_seconds(pid) for label_, pid in pids.items()}
            calls = delta(calls_before, command_calls(redis_client))
            # Minus the two INFO calls of this measurement.
            reads = reads_processed(redis_client) - reads_before - 2
        finally:
            redis_client.close()
        result.client_cpu = 100 * client_cpu / elapsed
        for label_, before in cpu_before.items():
            after = cpu_after[label_]
            if before is not None and after is not None:
                result.cpu[label_] = 100 * (after - before) / elapsed
        try:
            if status != 0:
                raise RuntimeError(f"exit status {status}: {stderr.strip()[-2000:]}")
            if workload.kind == "http":
                self._fill_http(result, wrk.parse_wrk_output(stdout))
            else:
                self._fill_ws(result, workload, json.loads(stdout.strip().splitlines()[-1]))
        except (RuntimeError, ValueError, IndexError) as exc:
            result.failure = f"load client failed: {exc}"
        operations = result.messages if workload.kind == "chat" else result.ops
        if operations:
            total = sum(calls.values())
            result.redis_per_op = total / operations
            result.redis_breakdown = {name: count / operations
                                      for name, count in calls.most_common(12)}
            result.round_trips_under_load = reads / operations
        if result.ops == 0 and result.failure is None:
            result.failure = "no operation completed"
        if idle_probe and not stack.dead():
            self._idle_probe(stack, workload, result)
        if monitor_probe and not stack.dead():
            self._round_trip_probe(stack, workload, result)
            self._monitor_probe(stack, workload, result)
        result.problems = stack.problems_since(marks)
        down = stack.dead()
        if down:
            result.failure = (result.failure + "; " if result.failure else "") + (
                f"{', '.join(down)} died during the run")
        return result

    @staticmethod
    def _fill_http(result: Measurement, run: wrk.WrkResult) -> None:
        result.ops = run.requests
        result.seconds = run.seconds
        result.rate = run.rps
        result.p50, result.p90, result.p99 = run.p50, run.p90, run.p99
        if run.statuses:
            result.errors.update({f"HTTP {code}": count for code, count in run.statuses.items()
                                  if not 200 <= code < 300})
            result.detail["statuses"] = run.statuses
        elif run.non_2xx:
            result.errors["non-2xx"] = run.non_2xx
        result.errors.update({f"socket {name}": count
                              for name, count in run.socket_errors.items()})

    @staticmethod
    def _fill_ws(result: Measurement, workload: Workload, data: dict[str, Any]) -> None:
        result.ops = int(data["ops"])
        result.seconds = float(data["seconds"])
        result.rate = float(data["rate"])
        result.p50, result.p90, result.p99 = data["p50"], data["p90"], data["p99"]
        for status, count in data["refused"].items():
            result.errors[f"handshake {status}"] = count
        for code, count in data["closes"].items():
            result.errors[f"close {code}"] = count
        for key in ("dropped", "mismatched", "unanswered", "stalls"):
            if data.get(key):
                result.errors[key] = int(data[key])
        if workload.kind == "chat":
            result.lost = int(data["lost"])
            result.duplicated = int(data["duplicated"])
            result.messages = int(data["messages"])
            if result.duplicated:
                result.errors["duplicated"] = result.duplicated
        result.detail = {key: data[key] for key in ("connected", "members", "expected",
                                                     "delivered", "loop") if key in data}

    # -- probes without load ---------------------------------------------------------------

    def _sequential(self, stack: Stack, workload: Workload, count: int, max_seconds: float
                    ) -> tuple[list[float], int]:
        """``count`` operations one at a time on one connection; (latencies ms, failures)."""
        if workload.kind == "http":
            return sequential_requests(stack.host, stack.port, workload.path, count=count,
                                       max_seconds=max_seconds)
        mode = ["echo", "--path", workload.path, "--connections", "1"] if (
            workload.kind == "echo") else ["chat", "--rooms", "1", "--members", "1"]
        command = [self.client_python, str(WSLOAD), *mode[:1], "--port", str(stack.port),
                   "--host", stack.host, "--duration", str(max_seconds), "--max-ops", str(count),
                   "--drain", "2", *mode[1:], "--raw-latencies"]
        stdout, _stderr, status, _ = self._run_client(command, time_limit=max_seconds + 30)
        if status != 0:
            return [], count
        data = json.loads(stdout.strip().splitlines()[-1])
        return list(data.get("latencies", [])), sum(int(v) for v in data["refused"].values())

    def _idle_probe(self, stack: Stack, workload: Workload, result: Measurement) -> None:
        latencies, failures = self._sequential(stack, workload, count=300, max_seconds=3.0)
        result.idle_failures = failures
        # The first few warm the connection up (and, for WebSockets, the handshake).
        kept = sorted(latencies[10:] or latencies)
        if kept:
            result.idle_p50 = statistics.median(kept)
            result.idle_p99 = kept[min(len(kept) - 1, round(0.99 * (len(kept) - 1)))]

    def _round_trip_probe(self, stack: Stack, workload: Workload, result: Measurement) -> None:
        """Round trips per operation, one operation at a time: two sequential runs of
        different lengths, so what does not grow with the count (a WebSocket handshake, a
        connection set-up) cancels out."""
        counts = (20, 80)
        reads: list[int] = []
        client = stack.redis.client()
        try:
            for count in counts:
                before = reads_processed(client)
                latencies, _ = self._sequential(stack, workload, count=count, max_seconds=5.0)
                time.sleep(0.05)  # the last reply's round trips
                after = reads_processed(client)
                if len(latencies) != count:
                    return
                reads.append(after - before - 1)
        finally:
            client.close()
        result.round_trips_per_op = (reads[1] - reads[0]) / (counts[1] - counts[0])

    def _monitor_probe(self, stack: Stack, workload: Workload, result: Measurement) -> None:
        count = 50
        with Monitor(stack.redis.host[0], stack.redis.host[1]) as monitor:
            latencies, _ = self._sequential(stack, workload, count=count, max_seconds=5.0)
            time.sleep(0.1)  # let MONITOR print the last commands
        done = len(latencies)
        if not done:
            return
        commands: Counter[str] = monitor.client_commands
        result.client_commands_per_op = sum(commands.values()) / done
        result.round_trip_breakdown = {name: count_ / done
                                       for name, count_ in commands.most_common(10)}
        result.detail["script_commands_per_op"] = sum(monitor.script_commands.values()) / done


def idle_cpu(stack: Stack, seconds: float) -> dict[str, float]:
    """CPU (% of one core) each component uses while nothing is sent to it."""
    pids = stack.pids()
    before = {label: cpu_seconds(pid) for label, pid in pids.items()}
    started = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    usage = {}
    for label, pid in pids.items():
        after = cpu_seconds(pid)
        if before[label] is not None and after is not None:
            usage[label] = 100 * (after - before[label]) / elapsed  # type: ignore[operator]
    return usage


def calibrate_clients(client_python: str, seconds: float, connections: int, rooms: int,
                      members: int) -> dict[str, Any]:
    """Run the WebSocket client against its own trivial server: the client's ceiling."""
    server = subprocess.Popen([client_python, str(WSLOAD), "serve"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"calibration server did not start: {line!r}")
        port = line.split()[1]
        results = {}
        for mode, extra in (("echo", ["--connections", str(connections)]),
                            ("chat", ["--rooms", str(rooms), "--members", str(members)])):
            output = subprocess.run(
                [client_python, str(WSLOAD), mode, "--port", port, "--duration", str(seconds),
                 *extra], capture_output=True, text=True, timeout=seconds + 60, check=True)
            data = json.loads(output.stdout.strip().splitlines()[-1])
            results[mode] = {"rate": data["rate"], "p50": data["p50"],
                             "client_cpu_per_op_us": 1e6 * data["client_cpu_seconds"]
                             / max(data["ops"], 1), "loop": data["loop"]}
        return results
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
