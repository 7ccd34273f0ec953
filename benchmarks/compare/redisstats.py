"""Redis counters for the benchmark: commands executed (``INFO commandstats``), round trips
(``total_reads_processed``: one per request a client sends, a pipelined batch being one) and
the commands clients send (seen by ``MONITOR``).

``INFO commandstats`` counts every command Redis executes, those run inside Lua scripts
included, so it measures the work Redis does.  It cannot tell a command a client sent from one
a script ran, so :class:`Monitor` watches a short sequential probe: ``MONITOR`` prints the
commands a script runs with a ``[db lua]`` source, and everything else was sent by a client
(pipelined commands show one by one: they are commands, not round trips).
MONITOR slows Redis down, which is why it only runs during the probe, never under load.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Mapping

import redis

__all__ = ["Monitor", "command_calls", "delta", "parse_monitor_line", "reads_processed"]

_MONITOR_LINE = re.compile(r'^\+?[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"')


def command_calls(client: redis.Redis) -> Counter[str]:
    """``{command: calls}`` so far, from ``INFO commandstats`` (``info`` itself excluded)."""
    stats = client.info("commandstats")
    calls: Counter[str] = Counter()
    for name, value in stats.items():
        command = name.removeprefix("cmdstat_")
        if command != "info":
            calls[command] = int(value["calls"])
    return calls


def reads_processed(client: redis.Redis) -> int:
    """Requests Redis has read from its clients so far (``total_reads_processed``).

    A client's round trip is one read: a pipelined batch arrives in one read, so this counts
    round trips, not commands.  The ``INFO`` call itself adds one.
    """
    return int(client.info("stats")["total_reads_processed"])


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> Counter[str]:
    """Calls per command between two :func:`command_calls` snapshots (zeros dropped)."""
    result: Counter[str] = Counter()
    for command, calls in after.items():
        difference = calls - before.get(command, 0)
        if difference > 0:
            result[command] = difference
    return result


def parse_monitor_line(line: str) -> tuple[bool, str] | None:
    """``(from_script, command)`` for one ``MONITOR`` line, None for anything else.

    >>> parse_monitor_line('+1700000000.1 [0 127.0.0.1:5000] "EVALSHA" "ab" "1"')
    (False, 'evalsha')
    >>> parse_monitor_line('+1700000000.1 [0 lua] "rpush" "k" "v"')
    (True, 'rpush')
    """
    match = _MONITOR_LINE.match(line)
    if match is None:
        return None
    return match.group(1) == "lua", match.group(2).lower()


class Monitor:
    """Counts the commands a Redis server receives while it runs (a ``MONITOR`` connection).

    Use as a context manager; ``client_commands`` and ``script_commands`` are filled in when
    it exits.
    """

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.client_commands: Counter[str] = Counter()
        self.script_commands: Counter[str] = Counter()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def __enter__(self) -> Monitor:
        sock = socket.create_connection(self.address, timeout=10)
        sock.sendall(b"MONITOR\r\n")
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        first, _, rest = received.partition(b"\r\n")
        if not first.startswith(b"+OK"):
            sock.close()
            raise RuntimeError(f"MONITOR was refused: {first!r}")
        # Stops reading once no line came for this long after __exit__ (everything drained).
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._read, args=(rest,), daemon=True,
                                        name="redis-monitor")
        self._thread.start()
        return self

    def _read(self, buffer: bytes) -> None:
        assert self._sock is not None
        while True:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                if self._stopping.is_set():
                    break
                continue
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for raw in lines:
                parsed = parse_monitor_line(raw.decode("utf-8", "replace"))
                if parsed is not None:
                    from_script, command = parsed
                    (self.script_commands if from_script else self.client_commands)[command] += 1

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
