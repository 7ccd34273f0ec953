"""The example chat site as deployed: ``honcho`` runs the Procfile (web + 2 workers) on Redis.

Every message a client types must reach exactly the members of its room, in the same order for
all of them, each sender's messages in the order typed, and be saved in the database.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.e2e.clients import ChatSocket, HttpClient
from tests.e2e.harness import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def open_sockets(stack: Stack, room: str, count: int, label: str,
                 cookie: str = "") -> list[ChatSocket]:
    return [
        ChatSocket(stack.ws_url(room), cookie=cookie, label=f"{label}-{n}",
                   diagnostics=stack.diagnostics)
        for n in range(count)
    ]


def close_all(sockets: Sequence[ChatSocket]) -> None:
    for sock in sockets:
        sock.close()


def run_threads(targets: Sequence[Callable[[], None]], timeout: float = 120.0) -> None:
    """Run the callables concurrently; re-raise the first failure."""
    failures: list[BaseException] = []

    def guard(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guard, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a client thread did not finish"
    if failures:
        raise failures[0]


def typist(sock: ChatSocket, texts: Sequence[str]) -> Callable[[], None]:
    """A user who types the next line once the room showed them their previous one."""
    def run() -> None:
        for text in texts:
            sock.say(text)
            sock.wait_message(text, timeout=60)
    return run


@pytest.fixture
def stack(honcho_stack: Stack) -> Iterator[Stack]:
    honcho_stack.assert_running()
    yield honcho_stack
    honcho_stack.assert_running()


def test_pages_load(stack: Stack) -> None:
    visitor = HttpClient(stack.url())
    index = visitor.get("/chat/")
    assert index.status == 200
    assert 'id="room-name-input"' in index.text
    assert 'id="room-name-submit"' in index.text
    room = visitor.get("/chat/lobby/")
    assert room.status == 200
    for element in ("chat-log", "chat-message-input", "chat-message-submit"):
        assert f'id="{element}"' in room.text
    assert visitor.get("/chat/no%20such%20room/").status == 404


def test_three_rooms_of_five_chat_and_everything_is_saved(stack: Stack) -> None:
    rooms = {name: open_sockets(stack, name, 5, name) for name in ("red", "green", "blue")}
    try:
        lines = {
            (room, n): [f"{room} {n} line {i}" for i in range(4)]
            for room in rooms for n in range(5)
        }
        run_threads([typist(rooms[room][n], texts) for (room, n), texts in lines.items()])

        for room, members in rooms.items():
            expected = {text for (r, _), texts in lines.items() if r == room for text in texts}
            sequences = []
            for member in members:
                got = [frame["message"] for frame in member.wait_live(len(expected))]
                # Exactly this room's messages, each once (no other room's, no duplicates).
                assert Counter(got) == Counter(expected), member.label
                sequences.append(got)
            # One broadcast order, the same for every member...
            assert all(seq == sequences[0] for seq in sequences), room
            # ...which keeps each sender's lines in the order typed.
            for n in range(5):
                mine = [text for text in sequences[0] if text.startswith(f"{room} {n} ")]
                assert mine == lines[(room, n)]
            saved = [message for _, _, message in stack.site.rows(room)]
            assert Counter(saved) == Counter(expected)
            for n in range(5):
                assert [t for t in saved if t.startswith(f"{room} {n} ")] == lines[(room, n)]
    finally:
        for members in rooms.values():
            close_all(members)


def test_a_late_joiner_sees_the_history(stack: Stack) -> None:
    early = ChatSocket(stack.ws_url("history"), label="early", diagnostics=stack.diagnostics)
    try:
        typist(early, [f"before {i}" for i in range(3)])()
    finally:
        early.close()
    late = ChatSocket(stack.ws_url("history"), label="late", diagnostics=stack.diagnostics)
    try:
        late.wait_until(lambda frames: sum(1 for f in frames if f.get("history")) >= 3,
                        "three history frames")
        assert [f["message"] for f in late.history()] == ["before 0", "before 1", "before 2"]
        assert late.live() == []
        typist(late, ["after"])()
        saved = [message for _, _, message in stack.site.rows("history")]
        assert saved == ["before 0", "before 1", "before 2", "after"]
    finally:
        late.close()


def test_signed_in_users_are_named_and_guests_get_a_name(stack: Stack) -> None:
    alice = HttpClient(stack.url())
    redirect = alice.sign_in("alice", "wonderland-42", next_url="/chat/tea/")
    assert redirect.status == 302
    assert redirect.header("location") == "/chat/tea/"
    page = alice.get("/chat/tea/")
    assert "alice" in page.text
    signed_in = ChatSocket(stack.ws_url("tea"), cookie=alice.cookie_header(), label="alice",
                           diagnostics=stack.diagnostics)
    guest = ChatSocket(stack.ws_url("tea"), label="guest", diagnostics=stack.diagnostics)
    try:
        signed_in.say("hello from alice")
        assert guest.wait_message("hello from alice")["user"] == "alice"
        guest.say("hello from a guest")
        frame = signed_in.wait_message("hello from a guest")
        assert frame["user"].startswith("guest-")
        # A wrong password for a taken name is refused.
        mallory = HttpClient(stack.url())
        assert mallory.sign_in("alice", "not-her-password").status == 302
        assert "That name is taken" in mallory.get("/chat/").text
    finally:
        close_all([signed_in, guest])


def test_a_bad_frame_gets_an_error_and_the_socket_stays_usable(stack: Stack) -> None:
    sock = ChatSocket(stack.ws_url("errors"), label="bad", diagnostics=stack.diagnostics)
    try:
        sock.send_text("not json")
        sock.wait_until(lambda frames: any("error" in f for f in frames), "an error frame")
        typist(sock, ["still here"])()
        assert [m for _, _, m in stack.site.rows("errors")] == ["still here"]
    finally:
        sock.close()


def test_256_clients_and_a_100_member_room_at_default_settings(stack: Stack) -> None:
    big = open_sockets(stack, "crowd", 100, "crowd")
    others: list[ChatSocket] = []
    try:
        for index in range(156):
            others += open_sockets(stack, f"side{index % 12}", 1, f"side{index}")
        # Every handshake succeeded (a 503 would have raised); now the crowd chats.
        senders = big[:5]
        run_threads([typist(sender, [f"crowd {n} says {i}" for i in range(3)])
                     for n, sender in enumerate(senders)])
        for member in big:
            got = [frame["message"] for frame in member.wait_live(15)]
            assert len(got) == 15 and len(set(got)) == 15, member.label
        # The side rooms talk too, and hear only themselves.
        run_threads([typist(others[n], [f"side {n}"]) for n in range(12)])
        for n, sock in enumerate(others):
            room = n % 12
            assert [f["message"] for f in sock.wait_live(1)] == [f"side {room}"]
        assert all(sock.close_code is None for sock in big + others)
    finally:
        close_all(big + others)
