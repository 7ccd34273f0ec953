"""Tests for interface_server._http_state: the START → BODY → DONE response machine."""

from __future__ import annotations

import pytest

from interface_server._http_state import (
    Abort,
    Fail,
    Finish,
    HttpReplyMachine,
    Ignore,
    ReplyState,
    SendBody,
    SendError,
    StartResponse,
    Timeout,
)
from interface_server.messages import ResponseChunk, ResponseStart

H = ((b"content-type", b"text/plain"),)


def start(content: bytes = b"", more: bool = False) -> ResponseStart:
    return ResponseStart(200, H, content, more)


def test_single_message_response() -> None:
    machine = HttpReplyMachine()
    assert machine.handle(start(b"hi")) == [StartResponse(200, H), SendBody(b"hi"), Finish()]
    assert machine.state is ReplyState.DONE and machine.started


def test_streaming_response_and_empty_chunks() -> None:
    machine = HttpReplyMachine()
    assert machine.handle(start(more=True)) == [StartResponse(200, H)]
    assert machine.handle(ResponseChunk(b"a", True)) == [SendBody(b"a")]
    assert machine.handle(ResponseChunk(b"", True)) == []
    assert machine.handle(ResponseChunk(b"", False)) == [Finish()]
    assert machine.state is ReplyState.DONE


def test_timeout_before_start_is_503() -> None:
    machine = HttpReplyMachine()
    [action] = machine.handle(Timeout())
    assert isinstance(action, SendError) and action.status == 503
    assert machine.state is ReplyState.DONE and machine.started


def test_timeout_never_cuts_a_started_response() -> None:
    machine = HttpReplyMachine()
    machine.handle(start(more=True))
    [action] = machine.handle(Timeout())
    assert isinstance(action, Ignore)
    assert machine.handle(ResponseChunk(b"x", False)) == [SendBody(b"x"), Finish()]


def test_fail_before_and_after_start() -> None:
    before = HttpReplyMachine()
    assert before.handle(Fail(503, "full")) == [SendError(503, "full")]
    after = HttpReplyMachine()
    after.handle(start(more=True))
    assert after.handle(Fail(503, "full")) == [Abort("full")]
    assert after.state is ReplyState.ERROR


def test_chunk_before_response_is_500_and_sticky() -> None:
    machine = HttpReplyMachine()
    [action] = machine.handle(ResponseChunk(b"x", False))
    assert isinstance(action, SendError) and action.status == 500
    assert "expected a Response message" in action.reason
    assert machine.state is ReplyState.ERROR
    assert isinstance(machine.handle(start())[0], Ignore)


def test_second_response_aborts() -> None:
    machine = HttpReplyMachine()
    machine.handle(start(more=True))
    [action] = machine.handle(start())
    assert isinstance(action, Abort) and "Response Chunk" in action.reason
    assert machine.state is ReplyState.ERROR


@pytest.mark.parametrize("event", [start(), ResponseChunk(b"", False), Timeout(), Fail(500, "x")])
def test_everything_after_done_is_ignored(event: object) -> None:
    machine = HttpReplyMachine()
    machine.handle(start())
    [action] = machine.handle(event)  # type: ignore[arg-type]
    assert isinstance(action, Ignore)
