"""The README's first command: ``scripts/run-example`` serves the chat with the in-memory layer.

No Redis: runserver runs the interface server and worker threads in one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import ChatSocket, HttpClient
from tests.e2e.harness import REPO, LoggedProcess, Site

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LoggedProcess]]:
    directory: Path = tmp_path_factory.mktemp("run-example")
    env = Site(directory, None).base_environment()
    env.update({
        "PORT": "0",
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "PYTHON": env.get("PYTHON", "python3"),
    })
    env.pop("REDIS_URL", None)
    server = LoggedProcess("run-example", [str(REPO / "scripts" / "run-example")], env, REPO)
    try:
        match = server.wait_for(
            r"Starting ASGI/Channels development server at (http://\S+?)/", timeout=120
        )
        server.wait_for(r"Channel layer default \(InMemoryChannelLayer\)", timeout=10)
        yield match.group(1), server
    finally:
        server.stop()


def test_prints_the_url_and_serves_the_pages(example_server: tuple[str, LoggedProcess]) -> None:
    base, server = example_server
    assert server.count(r"Example chat site: ") == 1
    visitor = HttpClient(base)
    assert visitor.get("/chat/").status == 200
    room = visitor.get("/chat/lobby/")
    assert room.status == 200 and 'id="chat-log"' in room.text


def test_websocket_chat_on_the_in_memory_layer(
    example_server: tuple[str, LoggedProcess],
) -> None:
    base, server = example_server
    ws_base = base.replace("http://", "ws://")
    first = ChatSocket(f"{ws_base}/ws/chat/dev/", label="first", diagnostics=server.tail)
    second = ChatSocket(f"{ws_base}/ws/chat/dev/", label="second", diagnostics=server.tail)
    try:
        first.say("hello over runserver")
        assert second.wait_message("hello over runserver")["user"].startswith("guest-")
        second.say("hello back")
        first.wait_message("hello back")
    finally:
        first.close()
        second.close()
    late = ChatSocket(f"{ws_base}/ws/chat/dev/", label="late", diagnostics=server.tail)
    try:
        late.wait_until(lambda frames: sum(1 for f in frames if f.get("history")) >= 2,
                        "the history")
        assert [f["message"] for f in late.history()][-2:] == [
            "hello over runserver", "hello back",
        ]
    finally:
        late.close()
