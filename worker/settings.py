"""Worker settings with their defaults, read from Django settings when the worker starts."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .dispatch import DEFAULT_CONSUME_LATER_LIMIT

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "consume_later_retries",
    "grace_period",
]

#: Seconds in-flight consumers get to finish after SIGTERM.  Below the 30 s that Heroku and
#: Kubernetes wait before SIGKILL, so a drained worker still exits on its own.
DEFAULT_GRACE_PERIOD = 25.0


def _number(name: str, default: float, minimum: float, kind: type = float) -> float:
    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ImproperlyConfigured(f"{name} must be a number >= {minimum}, not {value!r}")
    return kind(value)


def consume_later_retries() -> int:
    """``CHANNELS_CONSUME_LATER_RETRIES``: redeliveries a ``ConsumeLater`` message gets (10)."""
    value = getattr(settings, "CHANNELS_CONSUME_LATER_RETRIES", DEFAULT_CONSUME_LATER_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"CHANNELS_CONSUME_LATER_RETRIES must be an int >= 0, not {value!r}"
        )
    return value


def grace_period() -> float:
    """``CHANNELS_WORKER_GRACE_PERIOD``: seconds to drain after SIGTERM (25)."""
    return _number("CHANNELS_WORKER_GRACE_PERIOD", DEFAULT_GRACE_PERIOD, 0)
