"""Turn measurements into Markdown tables (pure functions, no I/O)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .workloads import WORKLOADS, Measurement

__all__ = ["Summary", "conditions_section", "cpu_table", "format_number", "format_ratio",
           "idle_table", "main_table", "problems_section", "redis_table", "scenario_table",
           "summarise"]

STACK_ORDER = ("ours", "theirs")


@dataclass
class Summary:
    """Medians (and sums, for errors and losses) of one workload's runs on one stack."""

    stack: str
    workload: str
    runs: int = 0
    failed_runs: int = 0
    rate: float | None = None
    p50: float | None = None
    p99: float | None = None
    idle_p50: float | None = None
    idle_p99: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    lost: int | None = None
    messages: int | None = None
    redis_per_op: float | None = None
    redis_breakdown: dict[str, float] = field(default_factory=dict)
    round_trips_under_load: float | None = None
    round_trips_per_op: float | None = None
    client_commands_per_op: float | None = None
    round_trip_breakdown: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    client_cpu: float | None = None
    failures: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        """All errors over all runs."""
        return sum(self.errors.values())


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarise(measurements: Sequence[Measurement]) -> Summary:
    """Combine the runs of one workload on one stack.

    Throughput, latencies, CPU and Redis counts are medians over the runs that completed
    operations; errors and losses are summed over all runs.
    """
    first = measurements[0]
    summary = Summary(first.stack, first.workload, runs=len(measurements))
    good = [m for m in measurements if m.ops > 0]
    summary.failed_runs = len(measurements) - len(good)
    summary.rate = _median(m.rate for m in good)
    summary.p50 = _median(m.p50 for m in good)
    summary.p99 = _median(m.p99 for m in good)
    summary.idle_p50 = _median(m.idle_p50 for m in measurements)
    summary.idle_p99 = _median(m.idle_p99 for m in measurements)
    summary.redis_per_op = _median(m.redis_per_op for m in good)
    summary.round_trips_under_load = _median(m.round_trips_under_load for m in good)
    summary.client_cpu = _median(m.client_cpu for m in good)
    for measurement in measurements:
        for name, count in measurement.errors.items():
            summary.errors[name] = summary.errors.get(name, 0) + count
        if measurement.idle_failures:
            summary.errors["idle probe failures"] = (
                summary.errors.get("idle probe failures", 0) + measurement.idle_failures)
        if measurement.lost is not None:
            summary.lost = (summary.lost or 0) + measurement.lost
        if measurement.messages is not None:
            summary.messages = (summary.messages or 0) + measurement.messages
        if measurement.round_trips_per_op is not None and summary.round_trips_per_op is None:
            summary.round_trips_per_op = measurement.round_trips_per_op
        if (measurement.client_commands_per_op is not None
                and summary.client_commands_per_op is None):
            summary.client_commands_per_op = measurement.client_commands_per_op
            summary.round_trip_breakdown = measurement.round_trip_breakdown
        if measurement.failure:
            summary.failures.append(f"{measurement.label}: {measurement.failure}")
        for component, lines in measurement.problems.items():
            kept = summary.problems.setdefault(component, [])
            kept.extend(line for line in lines if line not in kept)
    if good:
        names = [name for m in good for name in m.redis_breakdown]
        summary.redis_breakdown = {
            name: statistics.median(m.redis_breakdown.get(name, 0.0) for m in good)
            for name in dict.fromkeys(names)}
        components = dict.fromkeys(name for m in good for name in m.cpu)
        summary.cpu = {name: statistics.median(m.cpu.get(name, 0.0) for m in good)
                       for name in components}
    return summary


def format_number(value: float | None, digits: int = 1) -> str:
    """``1,234`` for big numbers, ``12.3`` / ``0.45`` for small ones, ``n/a`` for None."""
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.{digits}f}"
    return f"{value:.2f}"


def format_ratio(ours: float | None, theirs: float | None, floor: float = 0.0) -> str:
    """``ours / theirs`` as ``1.23x`` (``n/a`` when either is missing or theirs is 0, or
    below ``floor``: a ratio to almost nothing says nothing)."""
    if ours is None or theirs is None or theirs == 0 or abs(theirs) < floor:
        return "n/a"
    return f"{ours / theirs:.2f}x"


def _errors(summary: Summary | None) -> str:
    if summary is None:
        return "n/a"
    if not summary.errors:
        return "0"
    detail = ", ".join(f"{name}: {count}" for name, count in sorted(summary.errors.items()))
    return f"{summary.error_count} ({detail})"


def _by_key(summaries: Iterable[Summary]) -> dict[tuple[str, str], Summary]:
    return {(s.workload, s.stack): s for s in summaries}


def main_table(summaries: Iterable[Summary], workloads: Sequence[str]) -> str:
    """One row per metric and workload: ours, theirs, ours/theirs."""
    table = _by_key(summaries)
    lines = ["| workload | metric | ours | theirs | ours/theirs |", "|---|---|---:|---:|---:|"]

    def row(title: str, metric: str, get: Callable[[Summary], float | None],
            ratio: bool = True, fmt: Callable[[float | None], str] = format_number,
            floor: float = 0.0) -> None:
        ours = table.get((key, "ours"))
        theirs = table.get((key, "theirs"))
        ours_value = get(ours) if ours else None
        theirs_value = get(theirs) if theirs else None
        lines.append(f"| {title} | {metric} | {fmt(ours_value)} | {fmt(theirs_value)} | "
                     f"{format_ratio(ours_value, theirs_value, floor) if ratio else ''} |")

    for key in workloads:
        workload = WORKLOADS[key]
        title = workload.title
        row(title, f"throughput ({workload.unit})", lambda s: s.rate)
        title = ""
        row(title, "p50 latency under load (ms)", lambda s: s.p50)
        row(title, "p99 latency under load (ms)", lambda s: s.p99)
        row(title, "idle latency, 1 connection, p50 (ms)", lambda s: s.idle_p50)
        row(title, "idle latency, 1 connection, p99 (ms)", lambda s: s.idle_p99)
        ours = table.get((key, "ours"))
        theirs = table.get((key, "theirs"))
        lines.append(f"| | errors (all runs) | {_errors(ours)} | {_errors(theirs)} | |")
        if workload.kind == "chat":
            row(title, "lost deliveries (all runs)", lambda s: s.lost, ratio=False,
                fmt=lambda v: "n/a" if v is None else f"{v:,.0f}")
        op = "message sent" if workload.kind == "chat" else (
            "request" if workload.kind == "http" else "echo")
        row(title, f"Redis commands per {op} (under load)", lambda s: s.redis_per_op,
            floor=0.5)
        row(title, f"Redis round trips per {op} (under load)",
            lambda s: s.round_trips_under_load, floor=0.5)
        row(title, f"Redis round trips per {op} (one at a time)",
            lambda s: s.round_trips_per_op, floor=0.5)
        row(title, "server-side CPU, % of one core",
            lambda s: sum(s.cpu.values()) if s.cpu else None)
    return "\n".join(lines)


def cpu_table(summaries: Iterable[Summary], workloads: Sequence[str]) -> str:
    """CPU per process (% of one core, medians) for each workload and stack."""
    table = _by_key(summaries)
    components: list[str] = []
    for summary in table.values():
        for name in summary.cpu:
            if name not in components:
                components.append(name)
    header = ["workload", "stack", *components, "server total", "load client"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for key in workloads:
        for stack in STACK_ORDER:
            summary = table.get((key, stack))
            if summary is None:
                continue
            cells = [format_number(summary.cpu[name]) if name in summary.cpu else "-"
                     for name in components]
            total = sum(summary.cpu.values()) if summary.cpu else None
            lines.append(f"| {WORKLOADS[key].title} | {stack} | " + " | ".join(cells)
                         + f" | {format_number(total)} | {format_number(summary.client_cpu)} |")
    return "\n".join(lines)


def redis_table(summaries: Iterable[Summary], workloads: Sequence[str]) -> str:
    """Which Redis commands make up the per-operation counts."""
    table = _by_key(summaries)
    lines = ["| workload | stack | commands per op under load (incl. inside scripts) | "
             "commands clients send per op, one at a time (MONITOR) |", "|---|---|---|---|"]
    for key in workloads:
        for stack in STACK_ORDER:
            summary = table.get((key, stack))
            if summary is None:
                continue

            def fmt(breakdown: dict[str, float]) -> str:
                shown = [f"{name} {value:.2f}" for name, value in
                         sorted(breakdown.items(), key=lambda item: -item[1]) if value >= 0.01]
                return ", ".join(shown[:8]) or "-"

            sent = fmt(summary.round_trip_breakdown)
            if summary.client_commands_per_op is not None:
                sent = f"{summary.client_commands_per_op:.2f}: {sent}"
            lines.append(f"| {WORKLOADS[key].title} | {stack} | {fmt(summary.redis_breakdown)} "
                         f"| {sent} |")
    return "\n".join(lines)


def scenario_table(measurements: Iterable[Measurement]) -> str:
    """The scenario checks: one row per scenario and stack."""
    lines = ["| scenario | stack | throughput | p50 ms | p99 ms | errors | lost |",
             "|---|---|---:|---:|---:|---|---:|"]
    for m in measurements:
        unit = WORKLOADS[m.workload].unit
        errors = ", ".join(f"{name}: {count}" for name, count in sorted(m.errors.items()))
        if m.failure:
            errors = (errors + "; " if errors else "") + m.failure
        statuses = m.detail.get("statuses")
        if statuses:
            errors = (errors + "; " if errors else "") + "statuses " + ", ".join(
                f"{code}: {count}" for code, count in sorted(statuses.items()))
        lost = "n/a" if m.lost is None else f"{m.lost:,}"
        if m.messages is not None and m.lost is not None:
            lost += f" of {m.messages * int(m.detail.get('members', 0) or 0):,}"
        lines.append(f"| {m.label} | {m.stack} | {format_number(m.rate)} {unit} | "
                     f"{format_number(m.p50)} | {format_number(m.p99)} | {errors or '0'} | "
                     f"{lost} |")
    return "\n".join(lines)


def problems_section(summaries: Iterable[Summary]) -> str:
    """Failures and component log lines, per stack and workload (empty when none)."""
    parts = []
    for summary in summaries:
        if not summary.failures and not summary.problems:
            continue
        parts.append(f"- **{summary.stack}, {WORKLOADS[summary.workload].title}**")
        parts.extend(f"  - run failure: {failure}" for failure in summary.failures)
        for component, lines in summary.problems.items():
            parts.append(f"  - {component} logged:")
            parts.extend(f"    - `{line[:300]}`" for line in lines[:6])
    return "\n".join(parts)


def idle_table(idle: dict[str, dict[str, float]]) -> str:
    """CPU of each component while no load runs, one row per stack and moment."""
    lines = ["| stack | per process | total |", "|---|---|---:|"]
    for name, usage in idle.items():
        cells = ", ".join(f"{component} {value:.1f}" for component, value in usage.items())
        lines.append(f"| {name} | {cells or '-'} | {sum(usage.values()):.1f} |")
    return "\n".join(lines)


def conditions_section(*, repeats: int, duration: float, connections: int, rooms: int,
                       members: int, workers: int, threads: int, versions: dict[str, str],
                       machine: str) -> str:
    """The run's conditions, for the top of the report."""
    installed = ", ".join(f"{name} {version}" for name, version in versions.items())
    return "\n".join([
        f"- {repeats} interleaved repeat(s) x {duration:g} s per workload and stack; "
        f"{connections} connections for HTTP and echo, {rooms} rooms x {members} members "
        "for chat; loopback.",
        f"- ours: interface server + {workers} runworker process(es) x {threads} thread(s) "
        "+ redis-server; theirs: one daphne process + redis-server.",
        f"- Channels 4 side: {installed or 'n/a'}.",
        f"- Machine: {machine}.",
    ])
