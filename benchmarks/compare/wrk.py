"""HTTP load with ``wrk``: run it, parse its ``--latency`` report.

With ``count_statuses=True`` a small Lua script makes wrk print how many responses had each
status code (so a 503 storm shows as such, not just as "non-2xx").  It costs wrk some CPU, so
the throughput runs leave it off.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WrkResult", "parse_latency", "parse_wrk_output", "wrk_command"]

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}

_STATUS_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\\n", status, n)) end
end
"""


def parse_latency(text: str) -> float:
    """A wrk duration (``512.00us``, ``1.20ms``, ``2.01s``, ``1.00m``) in milliseconds.

    >>> parse_latency("512.00us"), parse_latency("2.5s")
    (0.512, 2500.0)
    """
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


@dataclass
class WrkResult:
    """One wrk run.

    Attributes:
        requests: completed requests (any status).
        seconds: how long wrk ran.
        rps: wrk's requests/s.
        p50, p90, p99: latency percentiles in ms (None if wrk completed no request).
        non_2xx: responses with a status >= 400 (wrk's "Non-2xx or 3xx").
        socket_errors: connect/read/write/timeout errors.
        statuses: responses per status code (only with ``count_statuses``).
    """

    requests: int
    seconds: float
    rps: float
    p50: float | None
    p90: float | None
    p99: float | None
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        """Non-2xx responses plus socket errors."""
        return self.non_2xx + sum(self.socket_errors.values())


def parse_wrk_output(output: str) -> WrkResult:
    """Parse the text wrk prints with ``--latency``.

    Raises:
        ValueError: the summary lines are missing (wrk failed).
    """
    summary = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if summary is None or rate is None:
        raise ValueError("no summary in wrk's output:\n" + output)
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, flags=re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    socket_errors = {}
    if errors is not None:
        socket_errors = {name: int(value) for name, value in
                         zip(("connect", "read", "write", "timeout"), errors.groups(),
                             strict=True) if int(value)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    statuses = {int(code): int(count)
                for code, count in re.findall(r"^status (\d+) (\d+)$", output, flags=re.M)}

    def latency(key: str) -> float | None:
        return parse_latency(percentiles[key]) if key in percentiles else None

    return WrkResult(
        requests=int(summary.group(1)),
        seconds=parse_latency(summary.group(2) + summary.group(3)) / 1000,
        rps=float(rate.group(1)),
        p50=latency("50"), p90=latency("90"), p99=latency("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        statuses=statuses,
    )


def wrk_command(url: str, *, duration: float, connections: int, threads: int = 2,
                timeout: float = 10.0, script: Path | None = None) -> list[str]:
    """The wrk command line (whole seconds; wrk needs at least one connection per thread)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (apt-get install wrk)")
    threads = max(1, min(threads, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               f"--timeout={max(1, round(timeout))}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    return [*command, url]


def status_script(directory: Path) -> Path:
    """Write the status-counting Lua script into ``directory``; return its path."""
    path = Path(tempfile.mkstemp(suffix=".lua", dir=directory)[1])
    path.write_text(_STATUS_SCRIPT)
    return path


def run(command: list[str], time_limit: float) -> WrkResult:
    """Run a wrk command (bounded by ``time_limit`` seconds) and parse its report."""
    completed = subprocess.run(command, capture_output=True, text=True, timeout=time_limit,
                               check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout)
