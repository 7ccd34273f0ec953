"""The worker: processes that pull messages from the channel layer and run consumers.

``Worker`` is one receive-dispatch loop; ``WorkerGroup`` runs several of them in supervised
threads with a graceful shutdown; :func:`~worker.dispatch.dispatch` runs one message.
``manage.py runworker`` is the command-line entry point.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Worker", "WorkerGroup"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing worker.dispatch does not pull in the threading machinery.
    if name == "Worker":
        from .worker import Worker

        return Worker
    if name == "WorkerGroup":
        from .group import WorkerGroup

        return WorkerGroup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
