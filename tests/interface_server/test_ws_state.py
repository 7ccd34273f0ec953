"""Tests for interface_server._ws_state: every row of the Send/Close/Accept table and the
disconnect-code rules."""

from __future__ import annotations

import pytest

from interface_server._ws_state import (
    AcceptHandshake,
    AppReply,
    CancelConnect,
    ClientData,
    CloseSocket,
    ConnectAdmitted,
    ConnectionLost,
    ConnectTimeout,
    ForwardDisconnect,
    ForwardReceive,
    Ignore,
    RejectHandshake,
    SendFrame,
    ServerClose,
    WebSocketMachine,
    WsState,
)
from interface_server.messages import parse_ws_reply


def reply(**message: object) -> AppReply:
    return AppReply(parse_ws_reply(message))


def admitted() -> WebSocketMachine:
    machine = WebSocketMachine()
    assert machine.handle(ConnectAdmitted()) == []
    return machine


def opened() -> WebSocketMachine:
    machine = admitted()
    machine.handle(reply(accept=True))
    assert machine.state is WsState.OPEN
    return machine


# -- the spec's table, handshake pending ------------------------------------------------------


def test_accept_then_data() -> None:
    machine = admitted()
    assert machine.handle(reply(accept=True, text="hi")) == [AcceptHandshake(None),
                                                              SendFrame("hi")]
    assert machine.state is WsState.OPEN


def test_accept_with_app_subprotocol() -> None:
    machine = admitted()
    assert machine.handle(reply(accept=True, subprotocol="v2")) == [AcceptHandshake("v2")]


def test_accept_false_rejects_and_ignores_data() -> None:
    machine = admitted()
    actions = machine.handle(reply(accept=False, text="ignored"))
    assert actions == [RejectHandshake(403, "rejected by the application"),
                       ForwardDisconnect(1006, 1)]
    assert machine.state is WsState.CLOSED


@pytest.mark.parametrize("data", [{"text": "hi"}, {"bytes": b"\x00"}, {"text": ""}])
def test_data_while_connecting_accepts_implicitly(data: dict[str, object]) -> None:
    machine = admitted()
    payload = next(iter(data.values()))
    assert machine.handle(reply(**data)) == [AcceptHandshake(None), SendFrame(payload)]  # type: ignore[arg-type]


def test_close_without_data_while_connecting_rejects() -> None:
    machine = admitted()
    actions = machine.handle(reply(close=4001))
    assert isinstance(actions[0], RejectHandshake) and actions[0].status == 403


def test_close_with_data_while_connecting_accepts_sends_then_closes() -> None:
    machine = admitted()
    assert machine.handle(reply(text="bye", close=4001)) == [
        AcceptHandshake(None), SendFrame("bye"), CloseSocket(4001, "closed by the application")]
    assert machine.state is WsState.CLOSING
    assert machine.handle(ConnectionLost(peer_sent_close=True, peer_close_code=4001)) == [
        ForwardDisconnect(4001, 1)]


def test_empty_reply_while_connecting_is_ignored() -> None:
    machine = admitted()
    [action] = machine.handle(reply())
    assert isinstance(action, Ignore) and machine.state is WsState.CONNECTING


# -- open socket ----------------------------------------------------------------------------------


def test_open_send_and_empty_frames() -> None:
    machine = opened()
    assert machine.handle(reply(text="")) == [SendFrame("")]
    assert machine.handle(reply(bytes=b"")) == [SendFrame(b"")]


def test_open_close_after_send_true_is_1000() -> None:
    machine = opened()
    assert machine.handle(reply(text="last", close=True)) == [
        SendFrame("last"), CloseSocket(1000, "closed by the application")]
    assert machine.state is WsState.CLOSING


def test_open_accept_is_ignored() -> None:
    machine = opened()
    [action] = machine.handle(reply(accept=True))
    assert isinstance(action, Ignore) and machine.state is WsState.OPEN
    [action] = machine.handle(reply(accept=False))
    assert isinstance(action, Ignore) and machine.state is WsState.OPEN


def test_both_text_and_bytes_ignored_in_any_state() -> None:
    machine = admitted()
    [action] = machine.handle(reply(text="a", bytes=b"b", accept=True))
    assert isinstance(action, Ignore) and machine.state is WsState.CONNECTING
    machine = opened()
    [action] = machine.handle(reply(text="a", bytes=b"b"))
    assert isinstance(action, Ignore)


def test_replies_after_close_are_ignored() -> None:
    machine = opened()
    machine.handle(reply(close=True))
    [action] = machine.handle(reply(text="late"))
    assert isinstance(action, Ignore)


# -- order and disconnect codes -----------------------------------------------------------------


def test_order_counts_receives_and_disconnect_follows() -> None:
    machine = opened()
    assert machine.handle(ClientData("a")) == [ForwardReceive(1, "a")]
    assert machine.handle(ClientData(b"b")) == [ForwardReceive(2, b"b")]
    assert machine.handle(ConnectionLost(peer_sent_close=True, peer_close_code=1001)) == [
        ForwardDisconnect(1001, 3)]
    [action] = machine.handle(ConnectionLost())
    assert isinstance(action, Ignore)


@pytest.mark.parametrize(
    ("lost", "code"),
    [
        (ConnectionLost(), 1006),
        (ConnectionLost(peer_sent_close=True, peer_close_code=None), 1005),
        (ConnectionLost(peer_sent_close=True, peer_close_code=4000), 4000),
        (ConnectionLost(local_close_code=1009), 1009),
        (ConnectionLost(local_close_code=1007, peer_sent_close=True, peer_close_code=1007), 1007),
    ],
)
def test_disconnect_code_of_an_open_socket(lost: ConnectionLost, code: int) -> None:
    machine = opened()
    assert machine.handle(lost) == [ForwardDisconnect(code, 1)]


@pytest.mark.parametrize("code", [1000, 1001, 1011, 1013])
def test_server_close_reports_the_server_code(code: int) -> None:
    machine = opened()
    assert machine.handle(ServerClose(code, "why")) == [CloseSocket(code, "why")]
    # The client echoes a different code; the app still learns the real one.
    assert machine.handle(ConnectionLost(peer_sent_close=True, peer_close_code=1000)) == [
        ForwardDisconnect(code, 1)]


def test_server_close_while_connecting_rejects_with_status() -> None:
    machine = admitted()
    assert machine.handle(ServerClose(1013, "full", status=503)) == [
        RejectHandshake(503, "full"), ForwardDisconnect(1006, 1)]


def test_connect_timeout() -> None:
    machine = admitted()
    actions = machine.handle(ConnectTimeout())
    assert isinstance(actions[0], RejectHandshake) and actions[0].status == 403
    assert actions[1] == ForwardDisconnect(1006, 1)
    [ignored] = opened().handle(ConnectTimeout())
    assert isinstance(ignored, Ignore)


def test_lost_before_connect_admitted_cancels_then_disconnects_if_it_lands() -> None:
    machine = WebSocketMachine()
    assert machine.handle(ConnectionLost()) == [CancelConnect()]
    # The connect was already on its way: once it lands, the app gets its disconnect.
    assert machine.handle(ConnectAdmitted()) == [ForwardDisconnect(1006, 1)]
    assert machine.handle(ConnectAdmitted()) == []


def test_disconnect_only_once_after_reject() -> None:
    machine = admitted()
    machine.handle(reply(close=True))
    assert machine.handle(ConnectionLost()) == [Ignore("connection end already handled")]


def test_client_data_while_connecting_is_an_internal_error_and_sticky() -> None:
    machine = admitted()
    [action] = machine.handle(ClientData("x"))
    assert action == CloseSocket(1011, "unexpected ClientData in state CONNECTING")
    assert machine.state is WsState.ERROR
    assert isinstance(machine.handle(reply(accept=True))[0], Ignore)
