"""Console logging for the management commands (``runworker``, ``runserver``).

The commands call :func:`setup_logger` so their output appears without any ``LOGGING``
configuration; a project that configures the logger itself keeps its own handlers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

__all__ = ["FORMAT", "flush_handlers", "level_for_verbosity", "setup_logger"]

#: The 1.x line format, kept so existing log parsers still match.
FORMAT = "%(asctime)s - %(levelname)s - %(module)s - %(message)s"


def level_for_verbosity(verbosity: int) -> int:
    """``-v 0`` warnings only, ``1``/``2`` info (2 adds per-message lines), ``3`` debug."""
    if verbosity <= 0:
        return logging.WARNING
    if verbosity >= 3:
        return logging.DEBUG
    return logging.INFO


def setup_logger(
    name: str, verbosity: int = 1, also: Iterable[str] = ()
) -> logging.Logger:
    """Give logger ``name`` (and the loggers in ``also``) a stderr handler at ``verbosity``.

    A logger that already has handlers (configured through Django's ``LOGGING``) only gets
    its level set.  Loggers given our handler stop propagating, so a root handler does not
    print every line twice.
    """
    level = level_for_verbosity(verbosity)
    logger = logging.getLogger(name)
    for target in (logger, *(logging.getLogger(other) for other in also)):
        target.setLevel(level)
        if target.handlers:
            continue
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._channels_classic = True  # type: ignore[attr-defined]  # marks ours
        target.addHandler(handler)
        target.propagate = False
    return logger


def flush_handlers(*names: str) -> None:
    """Flush the handlers of the named loggers (before ``os._exit``, which skips it)."""
    for name in names:
        for handler in logging.getLogger(name).handlers:
            with contextlib.suppress(Exception):  # a broken stream must not stop the exit
                handler.flush()
