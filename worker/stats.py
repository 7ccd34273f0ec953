"""Thread-safe counters of what the worker did, and the summary line logged at shutdown."""

from __future__ import annotations

import threading
from collections import Counter

from .dispatch import Outcome, Result

__all__ = ["COUNTER_NAMES", "WorkerStats"]

#: Every counter, in the order the summary prints them.
COUNTER_NAMES = (
    "consumed",  # the consumer ran and returned
    "failed",  # the consumer (or routing) raised; logged with a traceback
    "socket_actions",  # DenyConnection / WebsocketCloseException acted on the socket
    "requeued",  # ConsumeLater put the message back
    "dropped_retries",  # ConsumeLater past the limit, or the requeue failed
    "unrouted",  # no route matched
    "malformed",  # not a valid message for its channel; never reached a consumer
    "dropped_sends",  # messages a consumer sent that the layer refused (full, too large...)
    "layer_errors",  # failed fetches (Redis unreachable...)
    "killed",  # a consumer raised a BaseException that ended its thread
    "thread_restarts",  # worker threads replaced after dying
)

_BY_OUTCOME = {
    Outcome.CONSUMED: "consumed",
    Outcome.FAILED: "failed",
    Outcome.SOCKET_ACTION: "socket_actions",
    Outcome.REQUEUED: "requeued",
    Outcome.DROPPED_RETRIES: "dropped_retries",
    Outcome.UNROUTED: "unrouted",
    Outcome.MALFORMED: "malformed",
}


class WorkerStats:
    """Counters shared by every worker thread of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Increase counter ``name`` (one of :data:`COUNTER_NAMES`)."""
        if name not in COUNTER_NAMES:
            raise KeyError(f"Unknown worker counter {name!r}")
        with self._lock:
            self._counts[name] += amount

    def record(self, result: Result) -> None:
        """Count one dispatched message and the sends it lost."""
        with self._lock:
            self._counts[_BY_OUTCOME[result.outcome]] += 1
            if result.dropped_sends:
                self._counts["dropped_sends"] += len(result.dropped_sends)

    def snapshot(self) -> dict[str, int]:
        """Every counter's current value (zeros included)."""
        with self._lock:
            return {name: self._counts[name] for name in COUNTER_NAMES}

    def summary(self) -> str:
        """``consumed=12 failed=0 ...`` for the shutdown log line."""
        return " ".join(f"{name}={value}" for name, value in self.snapshot().items())
