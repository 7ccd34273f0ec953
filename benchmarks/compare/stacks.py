"""Start and stop the two stacks under test.

``ours``:   one redis-server, ``python -m interface_server`` and N ``runworker`` processes;
``theirs``: one redis-server (its own, so Redis counters are per stack) and one ``daphne``.

Everything listens on 127.0.0.1 on ports the kernel picks; the ports are read back from each
server's start-up log line.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.redis_server import RedisServer, start_redis

from .procs import ChildProcess

__all__ = ["Stack", "start_ours", "start_theirs"]

REPO = Path(__file__).resolve().parents[2]
#: Log lines worth reporting when they appear during a measurement.
PROBLEM = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Exception|Error:|refused|dropped|"
                     r"full|capacity|unavailable", re.IGNORECASE)


@dataclass
class Stack:
    """A running stack: where it listens, its processes and its Redis."""

    name: str
    host: str
    port: int
    redis: RedisServer
    processes: dict[str, ChildProcess] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        """``{component: pid}``, Redis included."""
        pids = {label: child.pid for label, child in self.processes.items()}
        assert self.redis.process is not None
        pids["redis"] = self.redis.process.pid
        return pids

    def dead(self) -> list[str]:
        """Components that are no longer running (with their exit status)."""
        gone = [f"{label} (exit {child.process.poll()})"
                for label, child in self.processes.items() if not child.alive()]
        if self.redis.process is None or self.redis.process.poll() is not None:
            gone.append("redis")
        return gone

    def log_marks(self) -> dict[str, int]:
        """Current log length of each component (pass to :meth:`problems_since`)."""
        return {label: child.line_count() for label, child in self.processes.items()}

    def problems_since(self, marks: dict[str, int], limit: int = 5) -> dict[str, list[str]]:
        """Warning/error lines each component logged since ``marks`` (first ``limit``
        distinct ones, with a count of the rest)."""
        found: dict[str, list[str]] = {}
        for label, child in self.processes.items():
            lines = child.matching(PROBLEM.pattern, marks.get(label, 0))
            if not lines:
                continue
            distinct: list[str] = []
            for line in lines:
                # Timestamps differ; compare what follows them.
                key = re.sub(r"^[\d\-: ,.]+", "", line)[:200]
                if key not in (re.sub(r"^[\d\-: ,.]+", "", seen)[:200] for seen in distinct):
                    distinct.append(line)
            shown = distinct[:limit]
            if len(lines) > len(shown):
                shown.append(f"... {len(lines)} matching lines in all")
            found[label] = shown
        return found

    def stop(self) -> None:
        """Stop the servers first (clean disconnects), then the workers, then Redis."""
        for child in reversed(list(self.processes.values())):
            child.stop()
        self.redis.close()


def _environment(redis_url: str, directory: Path, settings: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
           "BENCH_REDIS_URL": redis_url, "BENCH_DB": str(directory / "db.sqlite3"),
           "DJANGO_SETTINGS_MODULE": settings}
    env.pop("PORT", None)
    return env


def start_ours(directory: Path, *, workers: int, threads: int,
               server_args: tuple[str, ...] = ()) -> Stack:
    """Redis, ``workers`` runworker processes and the interface server; waits until all
    are ready."""
    redis = start_redis()
    stack = Stack("ours", "127.0.0.1", 0, redis)
    try:
        env = _environment(redis.url, directory, "benchmarks.compare.ours.settings")
        for index in range(1, workers + 1):
            stack.processes[f"worker {index}"] = ChildProcess(
                f"worker {index}",
                [sys.executable, "-m", "django", "runworker", "--threads", str(threads),
                 "-v", "1"],
                env=env, cwd=REPO, log_path=directory / f"ours-worker-{index}.log")
        server = ChildProcess(
            "interface server",
            [sys.executable, "-m", "interface_server", "benchmarks.compare.ours.asgi:channel_layer",
             "-b", "127.0.0.1", "-p", "0", "--access-log", os.devnull, "-v", "1", *server_args],
            env=env, cwd=REPO, log_path=directory / "ours-interface-server.log")
        stack.processes = {"interface server": server, **stack.processes}
        for label, child in stack.processes.items():
            if label.startswith("worker"):
                child.wait_for(r"Worker started with")
        address = server.wait_for(r"Listening on \w+ at (\S+)")
        stack.host, _, port = address.group(1).rpartition(":")
        stack.host = stack.host.strip("[]")
        stack.port = int(port)
        server.wait_for(r"Receiving replies on process channel")
        return stack
    except BaseException:
        stack.stop()
        raise


def start_theirs(directory: Path, venv: Path, max_connections: int = 0) -> Stack:
    """Redis and one Daphne serving the Channels 4 project; waits until it listens.

    ``max_connections`` > 0 raises channels_redis's connection-pool cap (0: its default).
    """
    redis = start_redis()
    stack = Stack("theirs", "127.0.0.1", 0, redis)
    try:
        env = _environment(redis.url, directory, "benchmarks.compare.theirs.settings")
        env["VIRTUAL_ENV"] = str(venv)
        if max_connections:
            env["BENCH_THEIRS_MAX_CONNECTIONS"] = str(max_connections)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        daphne = ChildProcess(
            "daphne",
            [str(venv / "bin" / "python"), "-m", "daphne", "-b", "127.0.0.1", "-p", "0",
             "--access-log", os.devnull, "-v", "1", "benchmarks.compare.theirs.asgi:application"],
            env=env, cwd=REPO, log_path=directory / "theirs-daphne.log")
        stack.processes["daphne"] = daphne
        address = daphne.wait_for(r"Listening on TCP address (\S+):(\d+)")
        stack.host, stack.port = address.group(1), int(address.group(2))
        return stack
    except BaseException:
        stack.stop()
        raise
