"""The life cycle of one HTTP response, as a pure state machine.

Theory of operation
-------------------
A response goes ``START → BODY → DONE``: the first reply message (with ``status``) starts it,
chunks follow while ``more_content`` is true, and the message with ``more_content`` false ends
it.  Everything that can happen to a response — an app reply, the ``--http-timeout`` timer, an
admission failure — is an *event*; :meth:`HttpReplyMachine.handle` checks the event against the
transition table and returns *actions* (start the response, write body bytes, send an error
page, cut the connection) for the Twisted adapter to carry out.  Nothing here does I/O.

Two rules the table encodes on purpose (both were bugs in Daphne 1.x):

* ``TIMEOUT`` only acts in ``START``: a response that has started streaming is never cut by the
  time-to-first-byte timer.
* An app error in ``BODY`` cannot become an error page (the status line is already out), so it
  aborts the connection.

An illegal transition (a chunk before the response, a second response) moves to the sticky
``ERROR`` state: later events are ignored.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .messages import ResponseChunk, ResponseStart

__all__ = [
    "Abort",
    "Action",
    "Event",
    "Fail",
    "Finish",
    "HttpReplyMachine",
    "Ignore",
    "ReplyState",
    "SendBody",
    "SendError",
    "StartResponse",
    "Timeout",
]


class ReplyState(enum.Enum):
    """Where a response is in its life."""

    START = "START"  # waiting for the app's Response message
    BODY = "BODY"  # status line sent; chunks may follow
    DONE = "DONE"  # complete (or answered with an error page)
    ERROR = "ERROR"  # the app broke the protocol; everything later is ignored


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeout:
    """``--http-timeout`` passed without a response."""


@dataclass(frozen=True, slots=True)
class Fail:
    """The server cannot complete the request (admission failure, invalid reply...)."""

    status: int
    reason: str


Event = ResponseStart | ResponseChunk | Timeout | Fail


# -- actions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartResponse:
    """Send the status line and headers."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class SendBody:
    """Write body bytes (never empty)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Finish:
    """The response is complete."""


@dataclass(frozen=True, slots=True)
class SendError:
    """Answer with an error page instead of the app's response, then close."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Cut the connection: the response started and cannot be completed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do; ``reason`` is for the debug log."""

    reason: str


Action = StartResponse | SendBody | Finish | SendError | Abort | Ignore

_S = ReplyState

# (state, event kind) → next state.  Kinds: "start", "start_last", "chunk", "chunk_last",
# "timeout", "fail".  Pairs not listed are protocol errors.
_TRANSITIONS: dict[tuple[ReplyState, str], ReplyState] = {
    (_S.START, "start"): _S.BODY,
    (_S.START, "start_last"): _S.DONE,
    (_S.START, "timeout"): _S.DONE,
    (_S.START, "fail"): _S.DONE,
    (_S.BODY, "chunk"): _S.BODY,
    (_S.BODY, "chunk_last"): _S.DONE,
    (_S.BODY, "timeout"): _S.BODY,
    (_S.BODY, "fail"): _S.ERROR,
}


def _kind(event: Event) -> str:
    if isinstance(event, ResponseStart):
        return "start" if event.more_content else "start_last"
    if isinstance(event, ResponseChunk):
        return "chunk" if event.more_content else "chunk_last"
    if isinstance(event, Timeout):
        return "timeout"
    return "fail"


_EXPECTED = {
    _S.START: "a Response message (with 'status')",
    _S.BODY: "a Response Chunk (no 'status')",
}


class HttpReplyMachine:
    """State of one response; feed it events, carry out the returned actions."""

    def __init__(self) -> None:
        self.state = ReplyState.START
        #: True once the status line has gone out (an error page counts too).
        self.started = False

    def handle(self, event: Event) -> list[Action]:
        """Apply one event and return what to do."""
        state = self.state
        if state in (ReplyState.DONE, ReplyState.ERROR):
            return [Ignore(f"{type(event).__name__} after the response ended ({state.value})")]
        kind = _kind(event)
        next_state = _TRANSITIONS.get((state, kind))
        if next_state is None:
            return self._illegal(event)
        self.state = next_state
        if isinstance(event, ResponseStart):
            self.started = True
            actions: list[Action] = [StartResponse(event.status, event.headers)]
            if event.content:
                actions.append(SendBody(event.content))
            if not event.more_content:
                actions.append(Finish())
            return actions
        if isinstance(event, ResponseChunk):
            actions = [SendBody(event.content)] if event.content else []
            if not event.more_content:
                actions.append(Finish())
            return actions
        if isinstance(event, Timeout):
            if state is ReplyState.START:
                self.started = True
                return [SendError(503, "the application did not start a response in time")]
            return [Ignore("timeout after the response started")]
        assert isinstance(event, Fail)
        if state is ReplyState.START:
            self.started = True
            return [SendError(event.status, event.reason)]
        return [Abort(event.reason)]

    def _illegal(self, event: Event) -> list[Action]:
        got = "a Response message" if isinstance(event, ResponseStart) else "a Response Chunk"
        reason = f"expected {_EXPECTED[self.state]} but got {got}"
        was_started = self.started
        self.state = ReplyState.ERROR
        if not was_started:
            self.started = True
            return [SendError(500, reason)]
        return [Abort(reason)]
