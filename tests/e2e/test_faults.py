"""Faults under traffic: a worker killed or stopped, Redis restarted.

Each test runs the Procfile's processes separately (so one can be signalled) against a Redis of
its own.  ASGI 1.0 delivers at most once: a worker killed with SIGKILL loses what it held — the
message it was running and at most one more it had taken ahead — and the tests prove that
nothing else is lost.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import ChatSocket
from tests.e2e.conftest import fresh_stack
from tests.e2e.harness import Stack
from tests.e2e.test_chat_site import close_all, open_sockets, run_threads, typist
from tests.support.redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

#: What one SIGKILLed worker may lose: the message it runs, and one it fetched ahead.
MAX_LOST_TO_A_KILL = 2


@pytest.fixture
def redis(redis_factory: Callable[[], RedisServer]) -> RedisServer:
    """A Redis of this test's own, to restart."""
    return redis_factory()


@pytest.fixture
def stack(tmp_path: Path, redis: RedisServer) -> Iterator[Stack]:
    running = fresh_stack(tmp_path, redis)
    try:
        yield running
    finally:
        running.site.stop_all()


def patient_typist(sock: ChatSocket, texts: list[str], arrived: list[str],
                   lost: list[str]) -> None:
    """Type each line; one that does not come back within a few seconds counts as lost."""
    for text in texts:
        sock.say(text)
        try:
            sock.wait_message(text, timeout=5)
            arrived.append(text)
        except AssertionError:
            if sock.closed.is_set():
                raise
            lost.append(text)


def test_kill_9_of_one_worker_loses_at_most_what_it_held(stack: Stack) -> None:
    members = open_sockets(stack, "k", 3, "k")
    arrived: list[str] = []
    lost: list[str] = []
    killed = threading.Event()
    after_kill: list[str] = []
    try:
        lines = {n: [f"k {n} {i}" for i in range(40)] for n in range(3)}

        def killer() -> None:
            deadline = time.monotonic() + 60
            while len(arrived) < 30:  # mid-traffic: a third of the lines are through
                assert time.monotonic() < deadline, "traffic never got going"
                time.sleep(0.005)
            os.killpg(stack.workers[0].pid, signal.SIGKILL)
            stack.workers[0].wait(10)
            killed.set()

        def run(n: int) -> None:
            for text in lines[n]:
                sent_after_kill = killed.is_set()
                before = len(lost)
                patient_typist(members[n], [text], arrived, lost)
                if sent_after_kill:
                    after_kill.append(text)
                    assert len(lost) == before, f"{text!r} lost after the kill"

        run_threads([killer, *(lambda n=n: run(n) for n in range(3))])

        assert stack.workers[0].process.returncode == -signal.SIGKILL
        assert stack.workers[1].running, stack.diagnostics()
        assert after_kill, "no traffic after the kill"
        assert len(lost) <= MAX_LOST_TO_A_KILL, f"lost {lost}"
        everything = [t for texts in lines.values() for t in texts]
        # Every member saw the same messages: all that were not lost, each once.
        expected = sorted(set(everything) - set(lost))
        for member in members:
            got = sorted(f["message"] for f in member.wait_live(len(expected)))
            assert got == expected, member.label
        # Saved: everything delivered (a killed worker may have saved a line it then could
        # not broadcast, so the database may hold a lost line too, never anything else).
        saved = {m for _, _, m in stack.site.rows("k")}
        assert set(expected) <= saved <= set(everything)
    finally:
        close_all(members)


def test_sigterm_lets_a_worker_drain_and_nothing_is_lost(stack: Stack) -> None:
    members = open_sockets(stack, "t", 2, "t")
    arrived: list[str] = []
    try:
        lines = {n: [f"t {n} {i}" for i in range(30)] for n in range(2)}
        stopping = stack.workers[0]

        def stopper() -> None:
            deadline = time.monotonic() + 60
            while len(arrived) < 15:
                assert time.monotonic() < deadline, "traffic never got going"
                time.sleep(0.005)
            stopping.send_signal(signal.SIGTERM)

        def run(n: int) -> None:
            for text in lines[n]:
                typist(members[n], [text])()
                arrived.append(text)

        run_threads([stopper, *(lambda n=n: run(n) for n in range(2))])
        assert stopping.wait(30, stack.diagnostics()) == 0
        assert stack.workers[1].running
        expected = sorted(t for texts in lines.values() for t in texts)
        for member in members:
            assert sorted(f["message"] for f in member.wait_live(len(expected))) == expected
        assert sorted(m for _, _, m in stack.site.rows("t")) == expected
    finally:
        close_all(members)


def test_redis_restart_everything_recovers_by_itself(stack: Stack, redis: RedisServer) -> None:
    before = ChatSocket(stack.ws_url("r"), label="before", diagnostics=stack.diagnostics)
    typist(before, ["before the restart"])()
    marks = {proc.name: proc.mark() for proc in [stack.web, *stack.workers]}

    redis.restart(down_for=1.0)  # an outage the processes notice, then an empty Redis

    # Open sockets cannot keep their groups (Redis forgot them): the server closes them.
    assert before.wait_closed(30) == 1011
    before.close()
    stack.web.wait_for("lost its data", 30, start=marks[stack.web.name],
                       context=stack.diagnostics())
    # Either the server's own "Channel layer reachable again" or, when its receive rode out
    # the outage inside the layer, the layer's "Redis at ... is reachable again".
    stack.web.wait_for("reachable again", 30, start=marks[stack.web.name],
                       context=stack.diagnostics())
    for worker in stack.workers:
        worker.wait_for("reachable again", 30, start=marks[worker.name],
                        context=stack.diagnostics())

    # Clients reconnect and chat; both workers serve (no process was restarted).
    members = open_sockets(stack, "r", 3, "after")
    try:
        run_threads([typist(sock, [f"after {n} {i}" for i in range(5)])
                     for n, sock in enumerate(members)])
        for member in members:
            assert len(member.wait_live(15)) == 15
        assert all(proc.running for proc in [stack.web, *stack.workers])
        saved = [m for _, _, m in stack.site.rows("r")]
        assert saved[0] == "before the restart" and len(saved) == 16
    finally:
        close_all(members)
