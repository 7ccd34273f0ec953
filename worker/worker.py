"""``Worker``: pull messages from the layer one at a time and dispatch them.

One ``Worker`` is one loop in one thread.  Its receive is the layer's bounded blocking
``fetch`` (event-driven: it returns as soon as a message arrives, or empty after the layer's
``receive_timeout``), so the loop never sleeps to poll and notices a stop request within one
receive timeout.  A message that a fetch returned is always processed, even if a stop was
requested meanwhile: shutting down never loses a message that already left the layer.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from channels_classic.layers.base import Delivery
from channels_classic.message import DEFAULT_RETRY_TIME
from channels_classic.signals import worker_ready

from .backoff import Backoff
from .channels import select_channels
from .dispatch import Outcome, Result, dispatch
from .health import LayerHealth
from .stats import WorkerStats
from .validate import bad_request_reply, message_problem

__all__ = ["InFlight", "Worker"]

logger = logging.getLogger("channels_classic.worker")

OnMessage = Callable[[Delivery, Result], None]


class InFlight:
    """The message a worker is running right now (for shutdown reports)."""

    __slots__ = ("channel", "started")

    def __init__(self, channel: str, started: float) -> None:
        self.channel = channel
        self.started = started


class Worker:
    """Receive and dispatch messages for ``router``'s channels until stopped.

    Args:
        channel_layer: the layer (or ``channel_layers[alias]`` wrapper) to receive from; the
            consumers' sends go to it too.
        router: the routing; defaults to ``channel_layer.router``.
        only_channels / exclude_channels: ``fnmatch`` globs filtering the router's channels.
        message_retries: ``ConsumeLater`` redeliveries allowed (default from settings, 10).
        signal_handlers: when run in the main thread, SIGINT/SIGTERM stop the loop after the
            current message (set False when something else owns the signals).
        stats / health / stop_event: shared with the other threads of a WorkerGroup.
        log_each: log one line per message (``runworker -v 2``).
        on_message: called with each delivery and its result, after the consumer ran.
        send_retry_time: seconds a consumer's buffered send retries a full channel.
        backoff: delays between failed fetches while the layer is unreachable.
        announce: log the channel list when ``run`` starts (a WorkerGroup logs it once).
    """

    def __init__(
        self,
        channel_layer: Any,
        router: Any = None,
        *,
        only_channels: Sequence[str] | None = None,
        exclude_channels: Sequence[str] | None = None,
        message_retries: int | None = None,
        signal_handlers: bool = False,
        stats: WorkerStats | None = None,
        health: LayerHealth | None = None,
        stop_event: threading.Event | None = None,
        log_each: bool = False,
        on_message: OnMessage | None = None,
        send_retry_time: float = DEFAULT_RETRY_TIME,
        backoff: Backoff | None = None,
        announce: bool = True,
    ) -> None:
        if router is None:
            router = getattr(channel_layer, "router", None)
            if router is None:
                raise TypeError("Worker needs a router (or a channel_layers[alias] wrapper)")
        if message_retries is None:
            from .settings import consume_later_retries

            message_retries = consume_later_retries()
        self.channel_layer = channel_layer
        self.router = router
        self.channels = select_channels(router.channels, only_channels, exclude_channels)
        if not self.channels:
            raise ValueError(
                "No channels to listen on: the routing has "
                f"{sorted(router.channels) or 'no channels'}, and the filters "
                f"(only {list(only_channels or [])}, exclude {list(exclude_channels or [])}) "
                "removed all of them"
            )
        self.message_retries = message_retries
        self.signal_handlers = signal_handlers
        self.stats = stats if stats is not None else WorkerStats()
        self.health = health if health is not None else LayerHealth(_describe(channel_layer))
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.log_each = log_each
        self.on_message = on_message
        self.send_retry_time = send_retry_time
        self.backoff = backoff if backoff is not None else Backoff()
        self.announce = announce
        #: Set by the signal handlers (a plain attribute: handlers must not take locks).
        self.termed = False
        self.in_flight: InFlight | None = None

    # -- control ---------------------------------------------------------------------------

    def should_stop(self) -> bool:
        """True once :meth:`stop` was called or a signal asked the loop to end."""
        return self.termed or self.stop_event.is_set()

    def stop(self) -> None:
        """Ask the loop to end after the message it is running (thread-safe)."""
        self.stop_event.set()

    def ready(self) -> None:
        """Send ``worker_ready`` (``run`` does it; kept as the 1.x entry point)."""
        worker_ready.send(sender=self)

    def run(self) -> None:
        """Loop until stopped: fetch one message at a time and dispatch it."""
        restore = self._install_signal_handlers() if self.signal_handlers else None
        # A layer that can (Redis) pops this thread's next message in the same round trip as
        # the replies of the current one; see RedisChannelLayer.fetch_ahead.
        raw_layer = getattr(self.channel_layer, "channel_layer", self.channel_layer)
        fetch_ahead = getattr(raw_layer, "fetch_ahead", None)
        try:
            if self.announce:
                logger.info("Listening on channels %s", ", ".join(self.channels))
            if fetch_ahead is not None:
                fetch_ahead(self.channels, lambda: not self.should_stop())
            self.ready()
            while not self.should_stop():
                self.run_once()
        finally:
            if fetch_ahead is not None:
                fetch_ahead(None)
            if restore is not None:
                restore()

    def run_once(self, block: bool = True) -> list[Result]:
        """One fetch (bounded blocking wait when ``block``) and the dispatch of its message.

        Returns the results of the messages processed (empty when the wait timed out or the
        layer was unreachable; in that case this also waits for the backoff delay).
        """
        try:
            deliveries = self.channel_layer.fetch(self.channels, block=block, max_messages=1)
        except Exception as exc:  # Redis down, or a layer bug: the worker must outlive both
            self.stats.add("layer_errors")
            self.health.failed(exc)
            # Bounded backoff; a stop request cuts it short.
            self.stop_event.wait(self.backoff.next_delay())
            return []
        self.health.succeeded()
        self.backoff.reset()
        return [self.process(delivery) for delivery in deliveries]

    # -- one message -------------------------------------------------------------------------

    def process(self, delivery: Delivery) -> Result:
        """Check, dispatch, count and log one delivery; never raises for its content."""
        problem = message_problem(delivery.channel, delivery.content)
        if problem is not None:
            result = self._reject(delivery, problem)
        else:
            self.in_flight = InFlight(delivery.channel, time.monotonic())
            try:
                result = dispatch(
                    delivery,
                    self.channel_layer,
                    self.router,
                    consume_later_limit=self.message_retries,
                    send_retry_time=self.send_retry_time,
                )
            except BaseException:
                # SystemExit & co. from a consumer end this thread; the group replaces it.
                self.stats.add("killed")
                raise
            finally:
                self.in_flight = None
        self.stats.record(result)
        if self.log_each:
            logger.info(
                "%s -> %s (%.1f ms) %s",
                delivery.channel,
                result.consumer or "-",
                result.duration * 1000,
                result.outcome.value,
            )
        if self.on_message is not None:
            try:
                self.on_message(delivery, result)
            except Exception:
                logger.exception("on_message callback failed")
        return result

    def _reject(self, delivery: Delivery, problem: str) -> Result:
        logger.error("Malformed message on %s dropped: %s", delivery.channel, problem)
        answer = bad_request_reply(delivery.channel, delivery.content)
        if answer is not None:
            try:
                self.channel_layer.send(*answer)
            except Exception as exc:  # the client will time out instead; still no crash
                logger.warning("Could not answer the malformed message on %s: %s",
                               delivery.channel, exc)
        return Result(Outcome.MALFORMED)

    # -- signals ---------------------------------------------------------------------------

    def _install_signal_handlers(self) -> Callable[[], None] | None:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handle(signum: int, frame: FrameType | None) -> None:
            # Only a flag: the loop checks it between messages.
            self.termed = True

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def _describe(channel_layer: Any) -> str:
    alias = getattr(channel_layer, "alias", None)
    raw = getattr(channel_layer, "channel_layer", channel_layer)
    name = type(raw).__name__
    return f"{alias!r} ({name})" if alias else name
