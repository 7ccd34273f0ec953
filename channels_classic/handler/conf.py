"""Settings read by the HTTP handler, each with its default and a check that says what to fix."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_REPLY_TIMEOUT",
    "body_spool_size",
    "body_timeout",
    "reply_timeout",
]

#: Seconds allowed for reading a request body from its ``body_channel`` (1.x's
#: ``body_receive_timeout``); past it the request is answered 408.
DEFAULT_BODY_TIMEOUT = 60.0
#: Seconds ``ViewConsumer`` keeps retrying one reply message while the reply channel is full
#: before it gives up on the response (1.x retried forever).
DEFAULT_REPLY_TIMEOUT = 10.0


def _positive_seconds(name: str, default: float) -> float:
    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def body_timeout() -> float:
    """``CHANNELS_HTTP_BODY_TIMEOUT``: seconds to read a chunked request body (default 60)."""
    return _positive_seconds("CHANNELS_HTTP_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)


def reply_timeout() -> float:
    """``CHANNELS_HTTP_REPLY_TIMEOUT``: seconds to retry a full reply channel (default 10)."""
    return _positive_seconds("CHANNELS_HTTP_REPLY_TIMEOUT", DEFAULT_REPLY_TIMEOUT)


def body_spool_size() -> int:
    """Bytes of request body kept in memory before it spills to a temporary file.

    Django's own ``FILE_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB by default), the threshold Django's
    ASGI handler uses for the same purpose.
    """
    return int(settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
