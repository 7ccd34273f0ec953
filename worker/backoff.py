"""Capped exponential backoff with jitter, as pure arithmetic (the caller does the waiting)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays for retrying after a failure: ``first``, doubling up to ``cap``.

    ``jitter`` spreads each delay over ``[delay * (1 - jitter), delay]`` so many workers that
    lost the same Redis at the same moment do not all reconnect in the same millisecond.
    """

    first: float = 0.1
    cap: float = 5.0
    jitter: float = 0.25
    rand: Callable[[], float] = random.random
    failures: int = 0

    def __post_init__(self) -> None:
        if self.first <= 0 or self.cap < self.first:
            raise ValueError(f"Backoff needs 0 < first <= cap, got {self.first}, {self.cap}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before the next try."""
        self.failures += 1
        # min() before the power would overflow for very long outages.
        exponent = min(self.failures - 1, 32)
        delay = min(self.cap, self.first * (2**exponent))
        return delay * (1 - self.jitter * self.rand())

    def reset(self) -> None:
        """Forget past failures (call after a success)."""
        self.failures = 0
