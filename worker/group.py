"""``WorkerGroup``: N supervised worker threads with a graceful, bounded shutdown.

Theory of operation
    Each thread runs one :class:`~worker.worker.Worker`; all share a stop event, counters and
    the layer's health state.  When a thread ends, it posts an ``exited`` event on a queue and
    wakes the supervisor (the main thread under ``runworker``, a background thread under
    ``runserver``), which sleeps on a socket until then.  A thread that ends while the group
    is running died (a ``BaseException`` escaped a consumer): it is logged and a fresh one
    takes its slot.

    Stopping sets the stop event.  Idle threads return from their bounded fetch within one
    receive timeout; busy ones finish the message they are running and flush its sends.  The
    supervisor waits for every thread up to the grace period.  Signals reach it through
    :func:`signal.set_wakeup_fd` on that same socket: a process-directed signal may be taken
    by any thread, and only the wakeup fd reliably wakes a main thread that is blocked waiting.
    The Python-level handlers do nothing but count.  A second signal ends the wait at once.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.db import connections

from .health import LayerHealth
from .stats import WorkerStats
from .waker import Waker
from .worker import Worker, _describe

__all__ = ["EXIT_DRAINED", "EXIT_GRACE_EXPIRED", "WorkerGroup"]

logger = logging.getLogger("channels_classic.worker")

#: Every thread finished its message and stopped.
EXIT_DRAINED = 0
#: The grace period ended with consumers still running.
EXIT_GRACE_EXPIRED = 1
#: A second signal: ``128 + signum`` is returned, as shells report a signal death.
EXIT_SIGNAL_BASE = 128

_Event = tuple[Any, ...]


class WorkerGroup:
    """Run ``threads`` workers on ``channel_layer`` and supervise them.

    Args:
        channel_layer / router: as for :class:`Worker` (router defaults to the wrapper's).
        threads: how many worker threads (each handles one message at a time).
        grace_period: seconds in-flight consumers get to finish once stopping.
        worker_kwargs: passed to every :class:`Worker` (``only_channels``, ``log_each``...).
    """

    def __init__(
        self,
        channel_layer: Any,
        router: Any = None,
        *,
        threads: int = 1,
        grace_period: float | None = None,
        **worker_kwargs: Any,
    ) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an int >= 1, not {threads!r}")
        if grace_period is None:
            from .settings import grace_period as configured_grace

            grace_period = configured_grace()
        self.channel_layer = channel_layer
        self.router = router if router is not None else channel_layer.router
        self.threads = threads
        self.grace_period = grace_period
        self.stats: WorkerStats = worker_kwargs.pop("stats", None) or WorkerStats()
        self.health = LayerHealth(_describe(channel_layer))
        self.stop_event = threading.Event()
        self._worker_kwargs = worker_kwargs
        self._events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
        self._slots: dict[int, tuple[threading.Thread, Worker]] = {}
        self._started = False
        self._supervisor: threading.Thread | None = None
        self.signals_received = 0
        self.exit_code: int | None = None
        # Build one worker now so configuration errors (no channels...) raise to the caller.
        self._first = self._make_worker()
        self.channels = self._first.channels
        self._waker = Waker()

    # -- public API ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (once)."""
        if self._started:
            return
        self._started = True
        for slot in range(self.threads):
            worker = self._first if slot == 0 else self._make_worker()
            self._launch(slot, worker)
        logger.info(
            "Worker started with %d thread%s, listening on channels %s",
            self.threads, "" if self.threads == 1 else "s", ", ".join(self.channels),
        )

    def serve(self, signal_handlers: bool = True) -> int:
        """Start, supervise in this thread until stopped, and return the exit code.

        With ``signal_handlers`` (main thread only) SIGINT/SIGTERM start the graceful stop and
        a second one returns ``128 + signum`` at once.
        """
        restore = self._install_signal_handlers() if signal_handlers else None
        try:
            self.start()
            return self._supervise()
        finally:
            if restore is not None:
                restore()
            # Only after the wakeup fd was given back: a late signal must not write to a
            # closed (or reused) fd number.
            self._waker.close()

    def start_background(self) -> None:
        """Start, with the supervisor in a daemon thread (for ``runserver``)."""
        self.start()
        self._supervisor = threading.Thread(
            target=self._supervise_then_close, name="channels-worker-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop(self, wait: bool = True) -> int | None:
        """Ask every thread to stop; with ``wait``, block until drained (background mode)."""
        # Set here, not by the supervisor, so no thread starts another fetch meanwhile.
        self.stop_event.set()
        self._post(("stop",))
        if wait and self._supervisor is not None:
            self._supervisor.join()
        return self.exit_code

    def in_flight(self) -> list[tuple[str, str, float]]:
        """``(thread name, channel, seconds running)`` for each message being consumed."""
        now = time.monotonic()
        busy = []
        for thread, worker in list(self._slots.values()):
            current = worker.in_flight
            if current is not None:
                busy.append((thread.name, current.channel, now - current.started))
        return busy

    # -- threads ---------------------------------------------------------------------------

    def _make_worker(self) -> Worker:
        return Worker(
            self.channel_layer,
            self.router,
            stats=self.stats,
            health=self.health,
            stop_event=self.stop_event,
            signal_handlers=False,
            announce=False,
            **self._worker_kwargs,
        )

    def _launch(self, slot: int, worker: Worker) -> None:
        thread = threading.Thread(
            target=self._thread_main,
            args=(slot, worker),
            name=f"channels-worker-{slot + 1}",
            # Daemon: a consumer stuck past the grace period must not keep the process alive.
            daemon=True,
        )
        self._slots[slot] = (thread, worker)
        thread.start()

    def _thread_main(self, slot: int, worker: Worker) -> None:
        error: BaseException | None = None
        try:
            worker.run()
        except BaseException as exc:
            error = exc
        finally:
            # Each thread has its own database connections; leave none behind.
            try:
                connections.close_all()
            except Exception:
                logger.debug("Closing database connections failed", exc_info=True)
            self._post(("exited", slot, error))

    # -- supervision -----------------------------------------------------------------------

    def _supervise_then_close(self) -> None:
        try:
            self._supervise()
        finally:
            self._waker.close()

    def _supervise(self) -> int:
        alive = len(self._slots)
        deadline: float | None = None
        while True:
            while True:
                try:
                    event = self._events.get_nowait()
                except queue.Empty:
                    break
                kind = event[0]
                if kind in ("stop", "signal"):
                    if deadline is None:
                        deadline = time.monotonic() + self.grace_period
                        self._begin_stop(event)
                    elif kind == "signal":
                        logger.warning("Second signal received; exiting at once")
                        return self._finish(EXIT_SIGNAL_BASE + int(event[1]))
                elif kind == "exited":
                    _, slot, error = event
                    if deadline is None:
                        self._replace(slot, error)
                        continue
                    alive -= 1
                    if alive == 0:
                        return self._finish(EXIT_DRAINED)
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                for name, channel, seconds in self.in_flight():
                    logger.error(
                        "Grace period over: %s is still consuming a message from %s "
                        "(running %.1f s); exiting without it", name, channel, seconds,
                    )
                return self._finish(EXIT_GRACE_EXPIRED)
            for signum in self._waker.wait(timeout):
                self._events.put(("signal", signum))

    def _begin_stop(self, event: _Event) -> None:
        busy = self.in_flight()
        reason = f"signal {signal.Signals(event[1]).name}" if event[0] == "signal" else "request"
        logger.info(
            "Stopping (%s): no new messages; waiting up to %.0f s for %d in-flight "
            "consumer%s", reason, self.grace_period, len(busy), "" if len(busy) == 1 else "s",
        )
        self.stop_event.set()

    def _post(self, event: _Event) -> None:
        self._events.put(event)
        self._waker.wake()

    def _replace(self, slot: int, error: BaseException | None) -> None:
        thread, _ = self._slots[slot]
        if error is not None:
            logger.error(
                "Worker thread %s died (%s: %s); starting a replacement",
                thread.name, type(error).__name__, error,
                exc_info=(type(error), error, error.__traceback__),
            )
        else:
            logger.error("Worker thread %s stopped unexpectedly; starting a replacement",
                         thread.name)
        self.stats.add("thread_restarts")
        self._launch(slot, self._make_worker())

    def _finish(self, code: int) -> int:
        self.exit_code = code
        self.stop_event.set()
        logger.info("Worker stopped; %s", self.stats.summary())
        return code

    def _install_signal_handlers(self) -> Callable[[], None] | None:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handle(signum: int, frame: FrameType | None) -> None:
            # Nothing to do here: the signal number reaches the supervisor through the
            # wakeup fd, which Python writes from whichever thread the signal hit.
            self.signals_received += 1

        previous_fd = signal.set_wakeup_fd(self._waker.signal_fd, warn_on_full_buffer=False)
        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_fd)

        return restore
