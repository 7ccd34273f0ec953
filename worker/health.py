"""Tracks whether the channel layer is reachable, so an outage is logged once, not per try.

Every worker thread of a process shares one :class:`LayerHealth`.  The first failed fetch of an
outage logs a warning (with a traceback when the error is not a plain connection failure);
later failures log at DEBUG; the first success afterwards logs how long the outage lasted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from channels_classic.layers.base import LayerUnavailable

__all__ = ["LayerHealth", "is_outage"]

logger = logging.getLogger("channels_classic.worker")


def is_outage(error: BaseException) -> bool:
    """True for errors that mean "the backend is unreachable", as opposed to a bug."""
    return isinstance(error, (LayerUnavailable, OSError))


class LayerHealth:
    """Shared up/down state of one layer, as seen by the worker threads."""

    def __init__(self, description: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.description = description
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.outages = 0

    @property
    def is_down(self) -> bool:
        """True between a failure and the next success."""
        return self._down_since is not None

    def failed(self, error: BaseException) -> None:
        """Record a failed layer call; log it if it starts an outage."""
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = self._clock()
                self.outages += 1
        if first:
            if is_outage(error):
                logger.warning(
                    "Channel layer %s is unavailable (%s: %s); retrying with backoff",
                    self.description, type(error).__name__, error,
                )
            else:
                logger.error(
                    "Receiving from channel layer %s failed; retrying with backoff",
                    self.description, exc_info=error,
                )
        else:
            logger.debug("Channel layer %s still failing: %s", self.description, error)

    def succeeded(self) -> None:
        """Record a successful layer call; log the end of an outage."""
        if self._down_since is None:  # the common case: no lock on the hot path
            return
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            logger.warning(
                "Channel layer %s is reachable again after %.1f s; resuming",
                self.description, self._clock() - since,
            )
