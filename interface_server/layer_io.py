"""Channel-layer I/O for the server: one batching sender, one reader, one health monitor.

Theory of operation
-------------------
The reactor thread never waits for the layer.  Twisted runs on the asyncio reactor and every
layer call is one of the layer's coroutines, wrapped into a Deferred by a *runner*
(:func:`asyncio_runner`).  Three objects do all the layer traffic of a server process:

:class:`LayerSender`
    Protocols hand it ``(channel, message)`` pairs.  Everything queued during one reactor turn
    goes to the layer in one ``send_many_async`` call (one round trip for Redis), and only one
    such batch is in flight at a time: that single pipe is what keeps each connection's
    messages in order.

    *Admission.*  When a channel is full (``ChannelFull``) the message is not refused at once,
    as Daphne 1.x did (93 % of answers were 503 with 256 clients and capacity 100).  It is
    parked in a FIFO for that channel, and every later message for that channel queues behind
    it, so order is kept.  One timer per blocked channel retries the head of the FIFO with a
    capped exponential backoff (5 ms doubling to 250 ms); when a retry succeeds, the next retry
    sends twice as many messages (up to 64), so a channel that drains quickly is refilled
    quickly.  A message that has waited ``admission_timeout`` seconds is refused (503 / 1013):
    since the FIFO is in arrival order, expired messages are always at its head.  The number of
    parked messages over all channels is capped (``admission_queue_limit``), and connections
    stop reading from their sockets while they have messages waiting, so memory stays bounded.
    There is no per-message timer and no spinning.

:class:`LayerReader`
    Waits on the server's process channel with ``fetch_async([prefix], max_messages=N)`` in a
    loop and hands every message to ``dispatch(channel, message)``.  An idle server is parked
    inside the layer's blocking receive: no polling.

:class:`LayerHealth`
    Notices when the layer becomes unreachable (``LayerUnavailable``) and when it comes back,
    and compares the layer's ``identity_async()`` after every recovery and every
    ``check_interval`` seconds.  A changed identity means the backend lost its data (Redis
    restarted empty); the server is told so it can close what depended on that data.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from channels_classic.layers.base import ChannelFull, Delivery, LayerUnavailable

__all__ = [
    "Backoff",
    "LayerHealth",
    "LayerReader",
    "LayerSender",
    "OutgoingMessage",
    "Runner",
    "SenderStats",
    "asyncio_runner",
]

logger = logging.getLogger("interface_server.layer")

Runner = Callable[[Coroutine[Any, Any, Any]], Deferred[Any]]
OnDone = Callable[[BaseException | None], None]

#: First retry delay for a full channel, and its cap (seconds).
ADMISSION_BACKOFF_MIN = 0.005
ADMISSION_BACKOFF_MAX = 0.25
#: Most messages of one blocked channel sent in one retry.
ADMISSION_WINDOW_MAX = 64
#: Most messages in one ``send_many_async`` call.
MAX_BATCH = 512


def asyncio_runner(loop: asyncio.AbstractEventLoop) -> Runner:
    """A runner that schedules coroutines on ``loop`` and returns Deferreds for them.

    Use the loop the asyncio reactor runs on, so the Deferred fires in the reactor thread.
    """

    def run(coro: Coroutine[Any, Any, Any]) -> Deferred[Any]:
        return Deferred.fromFuture(loop.create_task(coro))

    return run


class Backoff:
    """Capped exponential delays: ``initial``, ``initial*factor``... up to ``maximum``."""

    def __init__(self, initial: float = 0.1, maximum: float = 5.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.current = initial

    def next(self) -> float:
        """Return the delay to wait now and grow the next one."""
        delay = self.current
        self.current = min(self.current * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        """Start again from ``initial``."""
        self.current = self.initial


@dataclass(eq=False)
class OutgoingMessage:
    """A message handed to the sender; ``cancel()`` withdraws it if it has not gone yet."""

    channel: str
    message: dict[str, Any]
    on_done: OnDone | None
    parked_at: float | None = None
    cancelled: bool = False
    finished: bool = False

    def cancel(self) -> None:
        """Withdraw the message; its callback will not be called if it had not been sent."""
        self.cancelled = True

    def finish(self, error: BaseException | None) -> None:
        """Report the outcome once."""
        if self.finished:
            return
        self.finished = True
        if self.on_done is not None:
            try:
                self.on_done(error)
            except Exception:
                logger.exception("Error in a send callback for %s", self.channel)


@dataclass
class SenderStats:
    """Counters of the sender (read by logs, tests and the benchmarks)."""

    batches: int = 0
    sent: int = 0
    parked: int = 0
    admitted_after_wait: int = 0
    refused_full: int = 0
    unavailable: int = 0
    errors: int = 0


@dataclass(eq=False)
class _Blocked:
    """Admission state of one full channel.

    Invariant: while ``in_flight`` is 0 and ``queue`` is not empty, ``timer`` is armed.
    """

    queue: deque[OutgoingMessage] = field(default_factory=deque)
    backoff: float = ADMISSION_BACKOFF_MIN
    window: int = 1
    timer: IDelayedCall | None = None
    in_flight: int = 0
    successes: int = 0
    failures: int = 0


class LayerSender:
    """Batches sends to the layer; parks messages for full channels; see the module docstring.

    Args:
        layer: the channel layer (``send_many_async``).
        clock: ``IReactorTime`` (the reactor, or ``task.Clock`` in tests).
        run: turns a coroutine into a Deferred (:func:`asyncio_runner`).
        admission_timeout: seconds a message may wait for room; 0 refuses at once.
        queue_limit: most messages parked over all channels.
        on_unavailable: called with the exception when the layer is unreachable.
    """

    def __init__(
        self,
        layer: Any,
        clock: Any,
        run: Runner,
        *,
        admission_timeout: float,
        queue_limit: int,
        on_unavailable: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._layer = layer
        self._clock = clock
        self._run = run
        self._admission_timeout = admission_timeout
        self._queue_limit = queue_limit
        self._on_unavailable = on_unavailable
        self._ready: deque[OutgoingMessage] = deque()
        self._retries: deque[OutgoingMessage] = deque()
        self._blocked: dict[str, _Blocked] = {}
        self._parked_count = 0
        self._in_flight: list[OutgoingMessage] | None = None
        self._flush_call: IDelayedCall | None = None
        self._idle_waiters: list[Deferred[None]] = []
        self.stats = SenderStats()

    # -- public API -------------------------------------------------------------------------------

    def send(
        self, channel: str, message: dict[str, Any], on_done: OnDone | None = None
    ) -> OutgoingMessage:
        """Queue ``message`` for ``channel``.

        ``on_done(None)`` is called once the layer took it, or ``on_done(exc)`` when it was
        refused: ``ChannelFull`` (waited too long / too many waiting), ``LayerUnavailable``,
        ``MessageTooLarge`` or a validation error.  Never raises.
        """
        item = OutgoingMessage(channel, message, on_done)
        self._ready.append(item)
        self._schedule_flush()
        return item

    @property
    def parked(self) -> int:
        """Messages currently waiting for room on full channels."""
        return self._parked_count

    @property
    def in_flight(self) -> int:
        """Messages handed to the layer whose outcome is not known yet."""
        return len(self._in_flight or ())

    @property
    def idle(self) -> bool:
        """True when nothing is queued, parked or in flight."""
        return not (self._ready or self._retries or self._blocked or self._in_flight)

    def wait_idle(self) -> Deferred[None]:
        """A Deferred that fires once :attr:`idle` is true."""
        d: Deferred[None] = Deferred()
        if self.idle:
            d.callback(None)
        else:
            self._idle_waiters.append(d)
        return d

    def abandon(self) -> int:
        """Drop every queued and parked message (shutdown); return how many were dropped."""
        dropped = 0
        for blocked in self._blocked.values():
            if blocked.timer is not None and blocked.timer.active():
                blocked.timer.cancel()
            dropped += sum(1 for item in blocked.queue if not item.cancelled)
        self._blocked.clear()
        self._parked_count = 0
        dropped += sum(1 for item in self._ready if not item.cancelled)
        dropped += sum(1 for item in self._retries if not item.cancelled)
        self._ready.clear()
        self._retries.clear()
        self._check_idle()
        return dropped

    # -- batching ---------------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if self._flush_call is None and self._in_flight is None:
            # callLater(0): everything queued during this reactor turn joins one batch.
            self._flush_call = self._clock.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flush_call = None
        if self._in_flight is not None:
            return
        batch: list[OutgoingMessage] = []
        while self._retries and len(batch) < MAX_BATCH:
            item = self._retries.popleft()
            if item.cancelled:
                self._settle_retry(item, ok=True)
                continue
            batch.append(item)
        while self._ready and len(batch) < MAX_BATCH:
            item = self._ready.popleft()
            if item.cancelled:
                continue
            if item.channel in self._blocked:
                # Behind the messages already waiting for this channel, to keep order.
                self._park(item)
                continue
            batch.append(item)
        if not batch:
            self._check_idle()
            return
        self._in_flight = batch
        self.stats.batches += 1
        try:
            d = self._run(self._layer.send_many_async([(i.channel, i.message) for i in batch]))
        except Exception as exc:  # a layer bug must not stop the sender
            self._batch_failed(Failure(exc), batch)
            return
        d.addCallbacks(self._batch_done, self._batch_failed, callbackArgs=(batch,),
                       errbackArgs=(batch,))
        d.addErrback(self._internal_error)

    def _internal_error(self, failure: Failure) -> None:
        logger.error("Internal error in the layer sender: %s", failure.getTraceback())
        self._in_flight = None
        self._schedule_flush()

    def _batch_done(self, results: Sequence[BaseException | None], batch: list[OutgoingMessage]
                    ) -> None:
        self._in_flight = None
        if len(results) != len(batch):
            error = RuntimeError(
                f"send_many_async returned {len(results)} results for {len(batch)} messages"
            )
            results = [error] * len(batch)
        full: dict[str, list[OutgoingMessage]] = {}
        settled: list[tuple[OutgoingMessage, bool]] = []
        unavailable: BaseException | None = None
        for item, result in zip(batch, results, strict=True):
            was_retry = item.parked_at is not None
            if isinstance(result, ChannelFull):
                full.setdefault(item.channel, []).append(item)
                if was_retry:
                    settled.append((item, False))
                continue
            if was_retry:
                settled.append((item, result is None))
            if result is None:
                self.stats.sent += 1
                if was_retry:
                    self.stats.admitted_after_wait += 1
                item.finish(None)
                continue
            if isinstance(result, LayerUnavailable):
                self.stats.unavailable += 1
                unavailable = result
            else:
                self.stats.errors += 1
                logger.warning("Channel layer refused a message for %s: %s", item.channel, result)
            item.finish(result)
        for items in full.values():
            self._park_many(items)
        for item, ok in settled:
            self._settle_retry(item, ok)
        if unavailable is not None and self._on_unavailable is not None:
            self._on_unavailable(unavailable)
        self._continue()

    def _batch_failed(self, failure: Failure, batch: list[OutgoingMessage]) -> None:
        self._in_flight = None
        error = failure.value
        if isinstance(error, LayerUnavailable):
            self.stats.unavailable += len(batch)
        else:
            self.stats.errors += len(batch)
            logger.error("send_many_async failed for %d messages: %s", len(batch),
                         failure.getTraceback())
        for item in batch:
            item.finish(error)
            if item.parked_at is not None:
                self._settle_retry(item, ok=False)
        if isinstance(error, LayerUnavailable) and self._on_unavailable is not None:
            self._on_unavailable(error)
        self._continue()

    def _continue(self) -> None:
        if self._ready or self._retries:
            self._schedule_flush()
        else:
            self._check_idle()

    # -- admission --------------------------------------------------------------------------------

    def _park_many(self, items: list[OutgoingMessage]) -> None:
        """Park the refused messages of one channel, keeping their order.

        Retried messages came from the head of the FIFO and go back there; fresh ones start a
        FIFO (their channel was not blocked when the batch left).
        """
        retried = [item for item in items if item.parked_at is not None]
        if retried:
            blocked = self._blocked.get(items[0].channel)
            if blocked is None:  # abandoned meanwhile
                return
            blocked.queue.extendleft(reversed(retried))
            self._parked_count += len(retried)
        for item in items:
            if item.parked_at is None:
                self._park(item)

    def _park(self, item: OutgoingMessage) -> None:
        if self._admission_timeout <= 0 or self._parked_count >= self._queue_limit:
            self.stats.refused_full += 1
            reason = "admission queue full" if self._admission_timeout > 0 else "channel full"
            item.finish(ChannelFull(f"Channel {item.channel!r} is full ({reason})"))
            return
        item.parked_at = self._clock.seconds()
        self.stats.parked += 1
        blocked = self._blocked.get(item.channel)
        if blocked is None:
            blocked = self._blocked[item.channel] = _Blocked()
            logger.debug("Channel %s is full: messages wait for room (up to %gs)", item.channel,
                         self._admission_timeout)
            self._arm(item.channel, blocked)
        blocked.queue.append(item)
        self._parked_count += 1

    def _arm(self, channel: str, blocked: _Blocked, delay: float | None = None) -> None:
        if blocked.timer is not None and blocked.timer.active():
            return
        blocked.timer = self._clock.callLater(
            blocked.backoff if delay is None else delay, self._retry, channel
        )

    def _retry(self, channel: str) -> None:
        blocked = self._blocked.get(channel)
        if blocked is None:
            return
        blocked.timer = None
        now = self._clock.seconds()
        queue = blocked.queue
        # Arrival order means the oldest messages are at the head: expire from there.
        while queue:
            head = queue[0]
            if not head.cancelled:
                assert head.parked_at is not None
                if now - head.parked_at < self._admission_timeout:
                    break
            queue.popleft()
            self._parked_count -= 1
            if not head.cancelled:
                self.stats.refused_full += 1
                head.finish(ChannelFull(
                    f"Channel {channel!r} stayed full for {self._admission_timeout:g}s"
                ))
        taken = 0
        while queue and taken < blocked.window:
            item = queue.popleft()
            self._parked_count -= 1
            if item.cancelled:
                continue
            self._retries.append(item)
            taken += 1
        if taken:
            blocked.in_flight += taken
            blocked.successes = blocked.failures = 0
            self._schedule_flush()
        elif not queue and blocked.in_flight == 0:
            del self._blocked[channel]
            self._check_idle()

    def _settle_retry(self, item: OutgoingMessage, ok: bool) -> None:
        blocked = self._blocked.get(item.channel)
        if blocked is None:
            return
        blocked.in_flight -= 1
        if ok:
            blocked.successes += 1
        else:
            blocked.failures += 1
        if blocked.in_flight > 0:
            return
        # The round is over: widen the window after a clean round, back off after a refusal.
        if blocked.failures == 0:
            blocked.window = min(blocked.window * 2, ADMISSION_WINDOW_MAX)
            blocked.backoff = ADMISSION_BACKOFF_MIN
            if not blocked.queue:
                del self._blocked[item.channel]
                logger.debug("Channel %s has room again", item.channel)
                return
            self._arm(item.channel, blocked, delay=0)
            return
        blocked.window = max(1, blocked.successes or blocked.window // 2)
        blocked.backoff = min(blocked.backoff * 2, ADMISSION_BACKOFF_MAX)
        self._arm(item.channel, blocked)

    def _check_idle(self) -> None:
        if self._idle_waiters and self.idle:
            waiters, self._idle_waiters = self._idle_waiters, []
            for d in waiters:
                d.callback(None)


class LayerHealth:
    """Tracks whether the layer is reachable and whether it kept its data.

    Args:
        layer: the channel layer (``identity_async``).
        clock: ``IReactorTime``.
        run: coroutine → Deferred runner.
        on_reset: called with ``(old_identity, new_identity)`` when the backend lost its data.
        check_interval: seconds between identity checks while healthy (0 disables them).
    """

    def __init__(
        self,
        layer: Any,
        clock: Any,
        run: Runner,
        on_reset: Callable[[str, str], None],
        check_interval: float = 5.0,
    ) -> None:
        self._layer = layer
        self._clock = clock
        self._run = run
        self._on_reset = on_reset
        self._check_interval = check_interval
        self.identity: str | None = None
        self.available = True
        self._checking = False
        self._timer: IDelayedCall | None = None
        self._stopped = False
        self.outages = 0
        self.resets = 0

    def start(self) -> None:
        """Take the first identity and start the periodic check."""
        self.check()

    def stop(self) -> None:
        """Stop the periodic check."""
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()

    def note_unavailable(self, error: BaseException) -> None:
        """The layer could not be reached; log it once per outage."""
        if self.available:
            self.available = False
            self.outages += 1
            logger.warning("Channel layer unavailable (%s); retrying with backoff", error)

    def note_ok(self) -> None:
        """A layer call succeeded; after an outage, check whether data was lost."""
        if not self.available:
            self.available = True
            logger.warning("Channel layer reachable again")
            self.check()

    def check(self) -> None:
        """Compare the layer's identity with the one seen before (no-op if one is running)."""
        if self._checking or self._stopped:
            return
        self._checking = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        try:
            d = self._run(self._layer.identity_async())
        except Exception as exc:
            d = Deferred()
            d.errback(exc)
        d.addCallbacks(self._got_identity, self._identity_failed)

    def _got_identity(self, identity: str) -> None:
        self._checking = False
        if not self.available:
            self.available = True
            logger.warning("Channel layer reachable again")
        old = self.identity
        self.identity = identity
        if old is not None and identity != old:
            self.resets += 1
            try:
                self._on_reset(old, identity)
            except Exception:
                logger.exception("Error while handling the loss of channel layer data")
        self._schedule()

    def _identity_failed(self, failure: Failure) -> None:
        self._checking = False
        error = failure.value
        if error is not None and not isinstance(error, CancelledError):
            self.note_unavailable(error)
        self._schedule()

    def _schedule(self) -> None:
        if self._stopped or self._check_interval <= 0:
            return
        self._timer = self._clock.callLater(self._check_interval, self.check)


class LayerReader:
    """Receives the server's process channel and dispatches each message.

    Args:
        layer: the channel layer (``fetch_async``).
        channels: what to receive on (the server's ``prefix!``).
        dispatch: called with ``(channel, message)`` for every message, in order.
        clock: ``IReactorTime``.
        run: coroutine → Deferred runner.
        batch: ``max_messages`` per fetch.
        health: told about failures and successes.
    """

    def __init__(
        self,
        layer: Any,
        channels: Iterable[str],
        dispatch: Callable[[str, dict[str, Any]], None],
        clock: Any,
        run: Runner,
        *,
        batch: int = 100,
        health: LayerHealth | None = None,
    ) -> None:
        self._layer = layer
        self._channels = list(channels)
        self._dispatch = dispatch
        self._clock = clock
        self._run = run
        self._batch = batch
        self._health = health
        self._backoff = Backoff(0.1, 5.0)
        self._pending: Deferred[Any] | None = None
        self._retry_call: IDelayedCall | None = None
        self._running = False
        self.received = 0

    def start(self) -> None:
        """Begin the receive loop."""
        if not self._running:
            self._running = True
            self._fetch()

    def stop(self) -> None:
        """End the loop; an outstanding fetch is cancelled."""
        self._running = False
        if self._retry_call is not None and self._retry_call.active():
            self._retry_call.cancel()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()

    def _fetch(self) -> None:
        self._retry_call = None
        if not self._running:
            return
        try:
            d = self._run(self._layer.fetch_async(self._channels, max_messages=self._batch))
        except Exception as exc:
            d = Deferred()
            d.errback(exc)
        self._pending = d
        d.addCallbacks(self._got, self._failed)

    def _got(self, deliveries: list[Delivery]) -> None:
        self._pending = None
        if not self._running:
            return
        self._backoff.reset()
        if self._health is not None:
            self._health.note_ok()
        for delivery in deliveries:
            self.received += 1
            try:
                self._dispatch(delivery.channel, delivery.content)
            except Exception:
                logger.exception("Error while dispatching a reply for %s", delivery.channel)
        self._fetch()

    def _failed(self, failure: Failure) -> None:
        self._pending = None
        if not self._running or isinstance(failure.value, CancelledError):
            return
        error = failure.value
        if isinstance(error, LayerUnavailable):
            if self._health is not None:
                self._health.note_unavailable(error)
        else:
            logger.error("Receiving from the channel layer failed: %s", failure.getTraceback())
        self._retry_call = self._clock.callLater(self._backoff.next(), self._fetch)
