"""channels_classic against Channels 4 + Daphne 4 + channels_redis, interleaved, in one run.

    python benchmarks/compare.py                 # 3 repeats x 15 s per workload and stack
    python benchmarks/compare.py --quick         # a smoke run (about two minutes)
    python benchmarks/compare.py --workers 2 --repeats 5 --duration 10 --workloads view,echo

Starts both stacks on loopback (each with its own redis-server): ours is the interface server
plus ``--workers`` runworker processes; theirs is one Daphne process, installed with Channels 4
and channels_redis in ``benchmarks/.venv-channels4`` (created on first use with pip).  Both
serve the same four workloads: ``GET /hello`` through a Django view, a raw ``http.request``
consumer (``AsyncHttpConsumer`` on Channels 4), WebSocket echo and chat rooms.

Each repeat runs every workload on both stacks back to back, alternating which stack goes
first, so slow drifts of the machine (other processes, thermal limits) hit both alike.  The
report gives medians over the repeats and the ratio ours / theirs: throughput, p50/p99
latency under load, idle single-connection latency, errors, lost chat deliveries, CPU per
process, Redis commands per operation (under load) and Redis round trips per operation
(``MONITOR`` during a sequential probe).  Then the scenario checks run at default settings:
256 connections (HTTP view and echo) and a room of 100 members.

Everything (the tables as Markdown, every measurement as JSON, the components' logs) is kept
in ``benchmarks/out/<timestamp>/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.compare import report, venv  # noqa: E402
from benchmarks.compare.procs import install_exit_handlers, stop_all  # noqa: E402
from benchmarks.compare.stacks import Stack, start_ours, start_theirs  # noqa: E402
from benchmarks.compare.workloads import (  # noqa: E402
    WORKLOADS,
    LoadSpec,
    Measurement,
    Runner,
    calibrate_clients,
    idle_cpu,
)

STACKS = ("ours", "theirs")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` lowers every default that is not given explicitly."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 repeat x 3 s, short warm-up and scenarios")
    parser.add_argument("--repeats", type=int, help="interleaved repeats (default 3)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 15)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per workload and "
                        "stack, not counted (default 3)")
    parser.add_argument("--connections", type=int, default=50,
                        help="concurrent connections for HTTP and echo (default 50)")
    parser.add_argument("--rooms", type=int, default=10, help="chat rooms (default 10)")
    parser.add_argument("--members", type=int, default=10, help="members per room (default 10)")
    parser.add_argument("--workers", type=int, default=2,
                        help="runworker processes of our stack (default 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per runworker process (default 1)")
    parser.add_argument("--workloads", default="view,raw,echo,chat",
                        help="comma-separated subset of: " + ", ".join(WORKLOADS))
    parser.add_argument("--stacks", default="ours,theirs",
                        help="comma-separated subset of: ours, theirs")
    parser.add_argument("--no-scenarios", action="store_true",
                        help="skip the 256-connection and 100-member-room checks")
    parser.add_argument("--scenario-duration", type=float,
                        help="seconds per scenario check (default 10)")
    parser.add_argument("--idle-cpu", type=float,
                        help="seconds of idle-CPU measurement per stack (default 5)")
    parser.add_argument("--calibrate", action="store_true",
                        help="also measure the WebSocket client against a trivial server")
    parser.add_argument("--theirs-max-connections", type=int, default=0,
                        help="raise channels_redis's Redis connection-pool cap (default: "
                        "keep redis-py's, 100 per pool)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--out", type=Path, help="output directory "
                        "(default benchmarks/out/<timestamp>)")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {"repeats": 1 if quick else 3, "duration": 3.0 if quick else 15.0,
                "warmup": 1.0 if quick else 3.0, "scenario_duration": 3.0 if quick else 10.0,
                "idle_cpu": 2.0 if quick else 5.0}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.workload_keys = [key.strip() for key in args.workloads.split(",") if key.strip()]
    unknown = [key for key in args.workload_keys if key not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    args.stack_names = [name.strip() for name in args.stacks.split(",") if name.strip()]
    if not args.stack_names or any(name not in STACKS for name in args.stack_names):
        parser.error("--stacks takes ours, theirs or both")
    if args.repeats < 1 or args.duration <= 0 or args.connections < 1 or args.workers < 1:
        parser.error("repeats, duration, connections and workers must be positive")
    return args


def interleaved_order(stacks: Sequence[str], repeat: int) -> list[str]:
    """Which stack goes first in a repeat: alternate, so neither always runs on a warm (or
    tired) machine.

    >>> interleaved_order(["ours", "theirs"], 0), interleaved_order(["ours", "theirs"], 1)
    (['ours', 'theirs'], ['theirs', 'ours'])
    """
    return list(stacks) if repeat % 2 == 0 else list(reversed(stacks))


def scenario_plan(connections: int = 256, room_size: int = 100
                  ) -> list[tuple[str, str, LoadSpec]]:
    """``(label, workload, load)`` of the default-settings checks (durations filled later)."""
    return [
        (f"HTTP view, {connections} connections", "view",
         LoadSpec(0.0, connections=connections, count_statuses=True)),
        (f"WebSocket echo, {connections} connections", "echo",
         LoadSpec(0.0, connections=connections)),
        (f"chat, 1 room of {room_size} members", "chat",
         LoadSpec(0.0, rooms=1, members=room_size)),
    ]


class Run:
    """One benchmark run: the stacks, the runner, everything measured, the output files."""

    def __init__(self, args: argparse.Namespace, out: Path, log: Callable[[str], None]) -> None:
        self.args = args
        self.out = out
        self.log = log
        self.stacks: dict[str, Stack] = {}
        self.measurements: list[Measurement] = []
        self.scenarios: list[Measurement] = []
        self.idle: dict[str, dict[str, float]] = {}
        self.calibration: dict[str, Any] = {}
        self.versions: dict[str, str] = {}
        self.client_python = sys.executable
        self.runner: Runner | None = None

    def start(self) -> None:
        """Prepare the virtualenv and start the stacks that were asked for."""
        venv_dir, self.versions = venv.ensure_venv(self.log)
        # The WebSocket client runs with the virtualenv's interpreter: it has uvloop.
        self.client_python = str(venv_dir / "bin" / "python")
        self.runner = Runner(self.client_python, self.out, wrk_threads=self.args.wrk_threads)
        if "ours" in self.args.stack_names:
            self.log(f"Starting our stack: redis, interface server, {self.args.workers} "
                     f"runworker process(es) x {self.args.threads} thread(s) ...")
            self.stacks["ours"] = start_ours(self.out, workers=self.args.workers,
                                             threads=self.args.threads)
        if "theirs" in self.args.stack_names:
            self.log("Starting Channels 4: redis, daphne ...")
            self.stacks["theirs"] = start_theirs(
                self.out, venv_dir, max_connections=self.args.theirs_max_connections)

    def stop(self) -> None:
        """Stop every stack."""
        for stack in self.stacks.values():
            stack.stop()

    def _measure(self, stack: str, key: str, load: LoadSpec, label: str, *,
                 idle_probe: bool, monitor_probe: bool = False) -> Measurement:
        assert self.runner is not None
        measurement = self.runner.measure(self.stacks[stack], WORKLOADS[key], load, label,
                                          idle_probe=idle_probe, monitor_probe=monitor_probe)
        rate = report.format_number(measurement.rate)
        note = f"  FAILED: {measurement.failure}" if measurement.failure else ""
        errors = f", {measurement.error_count} errors" if measurement.error_count else ""
        lost = f", {measurement.lost} lost" if measurement.lost else ""
        self.log(f"  {label:<10} {key:<5} {stack:<6} {rate:>8} {WORKLOADS[key].unit}, "
                 f"p50 {report.format_number(measurement.p50)} ms, "
                 f"idle p50 {report.format_number(measurement.idle_p50)} ms{errors}{lost}{note}")
        return measurement

    def measure_all(self) -> None:
        """Warm up, then the interleaved repeats, then the idle CPU and the scenarios."""
        args = self.args
        stacks = [name for name in STACKS if name in self.stacks]
        load = LoadSpec(args.duration, connections=args.connections, rooms=args.rooms,
                        members=args.members)
        if args.warmup > 0:
            self.log("Warm-up (not counted) ...")
            warm = LoadSpec(args.warmup, connections=args.connections, rooms=args.rooms,
                            members=args.members)
            for key in args.workload_keys:
                for stack in stacks:
                    self._measure(stack, key, warm, "warm-up", idle_probe=False)
        for stack in stacks:
            self.idle[stack] = idle_cpu(self.stacks[stack], args.idle_cpu)
            self.log(f"Idle CPU {stack}: {format_cpu(self.idle[stack])}")
        for repeat in range(args.repeats):
            self.log(f"Repeat {repeat + 1} of {args.repeats}:")
            for key in args.workload_keys:
                for stack in interleaved_order(stacks, repeat):
                    self.measurements.append(self._measure(
                        stack, key, load, f"run {repeat + 1}", idle_probe=True,
                        monitor_probe=repeat == 0))
            self.write_results()
        if not args.no_scenarios:
            self.log("Scenario checks at default settings:")
            for label, key, planned in scenario_plan():
                spec = dataclasses.replace(planned, duration=args.scenario_duration)
                for stack in stacks:
                    self.scenarios.append(self._measure(stack, key, spec, label,
                                                        idle_probe=False))
        for stack in stacks:
            after = idle_cpu(self.stacks[stack], args.idle_cpu)
            self.idle[f"{stack} (after the run)"] = after
            self.log(f"Idle CPU {stack} after the run: {format_cpu(after)}")
        if args.calibrate:
            self.log("Calibrating the WebSocket client against a trivial server ...")
            self.calibration = calibrate_clients(self.client_python, min(args.duration, 5.0),
                                                 args.connections, args.rooms, args.members)

    def summaries(self) -> list[report.Summary]:
        """Summaries per workload and stack, in the report's order."""
        found = []
        for key in self.args.workload_keys:
            for stack in STACKS:
                runs = [m for m in self.measurements if m.workload == key and m.stack == stack]
                if runs:
                    found.append(report.summarise(runs))
        return found

    def markdown(self) -> str:
        """The full report."""
        args = self.args
        summaries = self.summaries()
        conditions = report.conditions_section(
            repeats=args.repeats, duration=args.duration, connections=args.connections,
            rooms=args.rooms, members=args.members, workers=args.workers,
            threads=args.threads, versions=self.versions, machine=machine_description())
        parts = ["# channels_classic vs Channels 4", "", conditions, "",
                 "## Medians over the repeats (ours / theirs)", "",
                 report.main_table(summaries, args.workload_keys), "",
                 "## CPU per process under load (% of one core, medians)", "",
                 report.cpu_table(summaries, args.workload_keys), "",
                 "## Redis commands per operation", "",
                 report.redis_table(summaries, args.workload_keys), "",
                 "## Idle CPU (% of one core)", "", report.idle_table(self.idle)]
        if self.scenarios:
            parts += ["", "## Default settings under pressure", "",
                      report.scenario_table(self.scenarios)]
        if self.calibration:
            parts += ["", "## WebSocket client ceiling (against a trivial server)", "",
                      "```", json.dumps(self.calibration, indent=2), "```"]
        problems = report.problems_section(summaries)
        if problems:
            parts += ["", "## Failures and logged problems", "", problems]
        return "\n".join(parts) + "\n"

    def write_results(self) -> None:
        """Write (or rewrite) the JSON and Markdown files of the run so far."""
        data = {
            "arguments": {key: value for key, value in vars(self.args).items()
                          if isinstance(value, (int, float, str, bool, list, type(None)))},
            "versions": self.versions,
            "machine": machine_description(),
            "idle_cpu": self.idle,
            "measurements": [m.to_json() for m in self.measurements],
            "scenarios": [m.to_json() for m in self.scenarios],
            "calibration": self.calibration,
        }
        (self.out / "results.json").write_text(json.dumps(data, indent=1, default=str))
        (self.out / "report.md").write_text(self.markdown())


def format_cpu(usage: dict[str, float]) -> str:
    """``interface server 0.1%, worker 1 0.0%, ...``."""
    return ", ".join(f"{name} {value:.1f}%" for name, value in usage.items())


def machine_description() -> str:
    """CPU count, load average and Python: the conditions a reader needs to judge noise."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f}, Python {platform.python_version()}, {platform.system()} "
            f"{platform.release()}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison; print the report; 1 if a stack could not start."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not on PATH (apt-get install wrk)", file=sys.stderr)
        return 1
    out = args.out or ROOT / "benchmarks" / "out" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.0f}s] {line}", flush=True)

    install_exit_handlers()
    run = Run(args, out, log)
    try:
        run.start()
        run.measure_all()
    finally:
        run.stop()
        stop_all()
    run.write_results()
    print()
    print(run.markdown())
    print(f"(report, JSON and logs in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
