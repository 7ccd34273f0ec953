"""Signals sent by the worker around consumers and at start-up (Channels 1.x names).

Django 4 removed ``providing_args``; the arguments each signal is sent with are documented here
instead.
"""

from __future__ import annotations

from django.db import close_old_connections
from django.dispatch import Signal

__all__ = ["consumer_finished", "consumer_started", "worker_process_ready", "worker_ready"]

# Sent around every message: caching the receivers per sender (the message class) saves
# looking them up each time; connect() and disconnect() clear the cache.
#: Sent before a consumer runs; ``environ`` is the message content (a dict).
consumer_started = Signal(use_caching=True)
#: Sent after a consumer has run, whatever happened.  Old database connections are closed.
consumer_finished = Signal(use_caching=True)
#: Sent by each worker (thread) when it is about to start fetching messages.
worker_ready = Signal()
#: Sent once by ``runworker`` when the process is set up, before its workers start.
worker_process_ready = Signal()

# Like Django's request_started/request_finished: a long-running worker must not keep stale
# or broken database connections between messages.
consumer_started.connect(close_old_connections)
consumer_finished.connect(close_old_connections)
