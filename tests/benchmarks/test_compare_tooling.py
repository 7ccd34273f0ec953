"""The pure parts of ``benchmarks/compare``: parsing wrk and MONITOR output, WebSocket framing,
chat accounting, summaries and report tables.  Nothing here starts a process or times anything.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.compare import report, wrk
from benchmarks.compare.redisstats import delta, parse_monitor_line
from benchmarks.compare.workloads import LoadSpec, Measurement
from benchmarks.compare.wsload import ChatConnection, chat_accounting, parse_frames, text_frame

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40000/hello
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    36.21ms   10.20ms   1.20s    70.00%
    Req/Sec   672.00    100.00     0.90k    70.00%
  Latency Distribution
     50%  35.60ms
     75%  40.00ms
     90%  512.00us
     99%    1.20s
  4014 requests in 3.00s, 600.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 12
Requests/sec:   1338.00
Transfer/sec:    200.00KB
status 200 4002
status 503 12
"""


def _load_compare_command():  # type: ignore[no-untyped-def]
    """``benchmarks/compare.py`` (a script next to the package of the same name)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare.py"
    spec = importlib.util.spec_from_file_location("compare_command", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compare_command", module)
    spec.loader.exec_module(module)
    return module


def test_parse_latency_units() -> None:
    assert wrk.parse_latency("512.00us") == pytest.approx(0.512)
    assert wrk.parse_latency("1.20ms") == pytest.approx(1.2)
    assert wrk.parse_latency("2.5s") == pytest.approx(2500.0)
    assert wrk.parse_latency("1.00m") == pytest.approx(60_000.0)
    with pytest.raises(ValueError, match="not a wrk duration"):
        wrk.parse_latency("12 parsecs")


def test_parse_wrk_output_reads_every_field() -> None:
    result = wrk.parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 4014
    assert result.seconds == pytest.approx(3.0)
    assert result.rps == pytest.approx(1338.0)
    assert (result.p50, result.p90, result.p99) == pytest.approx((35.6, 0.512, 1200.0))
    assert result.non_2xx == 12
    # Zero counters are left out.
    assert result.socket_errors == {"read": 2, "timeout": 5}
    assert result.statuses == {200: 4002, 503: 12}
    assert result.errors == 19


def test_parse_wrk_output_without_errors_or_latency() -> None:
    clean = "\n".join(line for line in WRK_OUTPUT.splitlines()
                      if not line.startswith(("  Socket", "  Non-2xx", "status", "     ")))
    result = wrk.parse_wrk_output(clean)
    assert result.errors == 0
    assert result.statuses == {}
    assert result.p50 is None and result.p99 is None


def test_parse_wrk_output_rejects_a_failed_run() -> None:
    with pytest.raises(ValueError, match="no summary"):
        wrk.parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_parse_monitor_line_tells_scripts_from_clients() -> None:
    assert parse_monitor_line('+1700000000.123 [0 127.0.0.1:5000] "EVALSHA" "ab" "1"') == (
        False, "evalsha")
    assert parse_monitor_line('+1700000000.123 [0 lua] "rpush" "k" "v"') == (True, "rpush")
    assert parse_monitor_line("+OK") is None


def test_delta_drops_unchanged_commands() -> None:
    before = {"evalsha": 10, "blmpop": 4, "ping": 1}
    after = {"evalsha": 25, "blmpop": 4, "ping": 1, "rpush": 3}
    assert delta(before, after) == Counter({"evalsha": 15, "rpush": 3})


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536])
def test_text_frame_round_trips_through_parse_frames(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    frame = text_frame(payload)
    buffer = bytearray(frame + frame[:3])  # one frame and the start of the next
    frames, used = parse_frames(buffer)
    assert frames == [(1, payload)]
    assert used == len(frame)


def test_parse_frames_unmasks_a_real_key() -> None:
    payload = b"hello"
    key = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
    frames, used = parse_frames(bytearray(b"\x81\x85" + key + masked))
    assert frames == [(1, payload)]
    assert used == 11


class _Member:
    """What ``chat_accounting`` reads of a member: its room and what it saw."""

    def __init__(self, room_members: list[int], seen: dict[int, bytearray]) -> None:
        self.room_members = room_members
        self.seen = seen


def test_chat_accounting_counts_lost_and_duplicated() -> None:
    # Member 0 sent 3 messages, member 1 sent 2.  Member 0 saw all of its own, missed
    # member 1's second; member 1 saw everything, member 0's first one twice.
    members = [
        _Member([0, 1], {0: bytearray([1, 1, 1]), 1: bytearray([1, 0])}),
        _Member([0, 1], {0: bytearray([2, 1, 1]), 1: bytearray([1, 1, 0, 0])}),
    ]
    result = chat_accounting(members, [3, 2])  # type: ignore[arg-type]
    assert result == {"expected": 10, "delivered": 9, "lost": 1, "duplicated": 1}


def test_chat_connection_is_what_accounting_reads() -> None:
    # The fake above mirrors the real class's attributes.
    assert {"room_members", "seen"} <= set(ChatConnection.__init__.__code__.co_names)


def _measurement(stack: str, rate: float, **extra: object) -> Measurement:
    measurement = Measurement(stack, "echo", "run", ops=int(rate * 10), rate=rate,
                              p50=1000 / rate, p99=3000 / rate)
    for name, value in extra.items():
        setattr(measurement, name, value)
    return measurement


def test_summarise_takes_medians_and_sums_errors() -> None:
    runs = [
        _measurement("ours", 100.0, errors={"close 1011": 1}, cpu={"worker 1": 50.0}),
        _measurement("ours", 300.0, cpu={"worker 1": 70.0}, idle_p50=1.0),
        _measurement("ours", 200.0, errors={"close 1011": 2}, cpu={"worker 1": 60.0},
                     idle_p50=3.0),
        Measurement("ours", "echo", "run", failure="load client failed"),
    ]
    summary = report.summarise(runs)
    assert summary.runs == 4
    assert summary.failed_runs == 1
    assert summary.rate == 200.0
    assert summary.idle_p50 == 2.0
    assert summary.errors == {"close 1011": 3}
    assert summary.cpu == {"worker 1": 60.0}
    assert summary.failures == ["run: load client failed"]


def test_main_table_gives_ratios() -> None:
    ours = report.summarise([_measurement("ours", 300.0, redis_per_op=4.0)])
    theirs = report.summarise([_measurement("theirs", 200.0, redis_per_op=0.01)])
    table = report.main_table([ours, theirs], ["echo"])
    throughput = next(line for line in table.splitlines() if "throughput" in line)
    assert throughput.split("|")[3:6] == [" 300 ", " 200 ", " 1.50x "]
    redis_row = next(line for line in table.splitlines() if "commands per echo" in line)
    # A ratio to (almost) nothing is not shown.
    assert redis_row.rstrip().endswith("| n/a |")


def test_format_helpers() -> None:
    assert report.format_number(None) == "n/a"
    assert report.format_number(12345.6) == "12,346"
    assert report.format_number(12.345) == "12.3"
    assert report.format_number(0.456) == "0.46"
    assert report.format_ratio(3.0, 2.0) == "1.50x"
    assert report.format_ratio(3.0, 0.0) == "n/a"
    assert report.format_ratio(None, 2.0) == "n/a"


def test_scenario_table_shows_statuses_and_loss() -> None:
    http = Measurement("ours", "view", "HTTP view, 256 connections", ops=10, rate=5.0,
                       errors={"HTTP 503": 3}, detail={"statuses": {200: 7, 503: 3}})
    chat = Measurement("theirs", "chat", "chat, 1 room of 100 members", ops=10, rate=5.0,
                       lost=4, messages=2, detail={"members": 100})
    table = report.scenario_table([http, chat])
    assert "HTTP 503: 3; statuses 200: 7, 503: 3" in table
    assert "| 4 of 200 |" in table


def test_command_line_defaults_and_interleaving() -> None:
    command = _load_compare_command()
    quick = command.parse_args(["--quick"])
    assert (quick.repeats, quick.duration, quick.scenario_duration) == (1, 3.0, 3.0)
    full = command.parse_args(["--workloads", "view,chat", "--duration", "7"])
    assert (full.repeats, full.duration, full.workload_keys) == (3, 7.0, ["view", "chat"])
    with pytest.raises(SystemExit):
        command.parse_args(["--workloads", "nope"])
    assert command.interleaved_order(["ours", "theirs"], 0) == ["ours", "theirs"]
    assert command.interleaved_order(["ours", "theirs"], 3) == ["theirs", "ours"]
    plan = command.scenario_plan()
    assert [(key, spec.connections if key != "chat" else spec.members)
            for _, key, spec in plan] == [("view", 256), ("echo", 256), ("chat", 100)]
    assert all(isinstance(spec, LoadSpec) for _, _, spec in plan)
