"""Per-connection outbound buffering driven by Twisted's producer/consumer flow control.

The connection registers itself as a streaming producer on its transport.  When the kernel
and Twisted's own buffer are full (the client reads slowly), the transport calls
``pauseProducing``; from then on, writes are held here instead of piling up inside the
transport.  ``resumeProducing`` releases them.  If more than ``limit`` bytes are held, the
connection is closed through ``on_overflow``: memory per connection stays bounded no matter how
fast the application produces.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["OutboundBuffer"]


class OutboundBuffer:
    """Holds pending writes while the transport is paused.

    Args:
        limit: most bytes held before ``on_overflow`` is called.
        on_overflow: called once when the limit is passed; held writes are dropped first.
    """

    def __init__(self, limit: int, on_overflow: Callable[[], None]) -> None:
        self.limit = limit
        self.on_overflow = on_overflow
        self.paused = False
        self.held = 0
        self.overflowed = False
        self._queue: deque[tuple[int, Callable[[], None]]] = deque()

    def submit(self, size: int, write: Callable[[], None]) -> None:
        """Run ``write`` now, or later if the transport is paused or writes are waiting."""
        if self.overflowed:
            return
        if not self.paused and not self._queue:
            write()
            return
        self._queue.append((size, write))
        self.held += size
        if self.held > self.limit:
            self.overflowed = True
            self.clear()
            self.on_overflow()

    def submit_control(self, write: Callable[[], None]) -> None:
        """Like :meth:`submit` for small control writes (close frames): they only wait behind
        held data, never for the pause itself."""
        if self._queue:
            self._queue.append((0, write))
        else:
            write()

    def pause(self) -> None:
        """The transport's buffer is full."""
        self.paused = True

    def resume(self) -> None:
        """The transport drained: release held writes until it pauses again."""
        self.paused = False
        while self._queue and not self.paused:
            size, write = self._queue.popleft()
            self.held -= size
            write()

    def clear(self) -> None:
        """Drop everything held."""
        self._queue.clear()
        self.held = 0

    @property
    def empty(self) -> bool:
        """True when nothing is held."""
        return not self._queue
