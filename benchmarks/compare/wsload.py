"""WebSocket load client (and a trivial echo/broadcast server to calibrate it).

Run as a script; it prints one JSON object on stdout::

    python wsload.py echo --host H --port P --path /ws/echo/ --connections 50 --duration 15
    python wsload.py chat --host H --port P --rooms 10 --members 10 --duration 15
    python wsload.py serve            # prints "LISTENING <port>", echoes / broadcasts per path

The client is written for speed, on asyncio protocols (uvloop when installed), with no
per-message coroutine: each connection keeps one message outstanding and sends the next from
the callback that receives the answer.  Frames are masked with an all-zero key (legal per
RFC 6455 and free to apply), so the client spends its time on the socket, not on XOR.

echo: every connection sends a 32-byte text frame, waits for the same text back, and repeats.

chat: ``rooms x members`` connections on ``/chat/<run>-<room>/``.  Once all are connected,
every member sends ``"<sender> <seq> <ns>"``, waits until that message comes back through the
room's group, and sends the next one.  Every member must receive every message of its room:
after the run (and a bounded drain) the client counts what each member is missing (lost) or got
twice (duplicated).  Latency is per delivery: receive time minus send time.

Both modes count handshake refusals per HTTP status, server-initiated closes per close code,
connections dropped without a close frame, and messages that never came back.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import struct
import sys
import time
from collections import Counter
from typing import Any

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ZERO_MASK = b"\x00\x00\x00\x00"


class HandshakeFailed(Exception):
    """The server refused or dropped the connection during the handshake (already counted)."""


def text_frame(payload: bytes) -> bytes:
    """A masked (all-zero key) text frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    return head + _ZERO_MASK + payload


def parse_frames(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """Complete frames at the start of ``buffer``: ``([(opcode, payload)], bytes used)``.

    Handles masked frames too (the calibration server parses client frames with it).
    """
    frames: list[tuple[int, bytes]] = []
    position = 0
    end = len(buffer)
    while end - position >= 2:
        first = buffer[position]
        second = buffer[position + 1]
        size = second & 0x7F
        header = 2
        if size == 126:
            if end - position < 4:
                break
            size = int.from_bytes(buffer[position + 2:position + 4], "big")
            header = 4
        elif size == 127:
            if end - position < 10:
                break
            size = int.from_bytes(buffer[position + 2:position + 10], "big")
            header = 10
        masked = second & 0x80
        mask = b""
        if masked:
            mask = bytes(buffer[position + header:position + header + 4])
            header += 4
        if end - position < header + size:
            break
        payload = bytes(buffer[position + header:position + header + size])
        if masked and mask != _ZERO_MASK:
            key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
            payload = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")
        frames.append((first & 0x0F, payload))
        position += header + size
    return frames, position


class Stats:
    """What one run observed."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ops = 0
        self.refused: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.dropped = 0
        self.mismatched = 0
        self.window_start = 0.0
        self.window_end = 0.0


class Connection(asyncio.Protocol):
    """One client WebSocket; subclasses decide what to do with each text message."""

    def __init__(self, host: str, port: int, path: str, stats: Stats) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: "
            f"{base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            "Origin: http://127.0.0.1\r\n\r\n"
        ).encode()
        self.stats = stats
        self.buffer = bytearray()
        self.open = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses: no isinstance check.)
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(self.buffer[:self.buffer.find(b"\r\n")])
            del self.buffer[:end + 4]
            parts = status_line.split(b" ")
            status = parts[1].decode() if len(parts) > 1 else "?"
            if status != "101":
                self.stats.refused[status] += 1
                self.closed = True
                if not self.ready.done():
                    self.ready.set_exception(HandshakeFailed(status))
                assert self.transport is not None
                self.transport.close()
                return
            self.open = True
            if not self.ready.done():
                self.ready.set_result(None)
        frames, used = parse_frames(self.buffer)
        if used:
            del self.buffer[:used]
        now = time.perf_counter()
        for opcode, payload in frames:
            if opcode in {1, 2}:
                self.on_message(payload, now)
            elif opcode == 8:
                code = str(int.from_bytes(payload[:2], "big")) if len(payload) >= 2 else "none"
                if not self.closed:
                    self.stats.closes[code] += 1
                self.close()
                return
            elif opcode == 9:
                assert self.transport is not None
                self.transport.write(struct.pack("!BB", 0x8A, 0x80 | len(payload)) + _ZERO_MASK
                                     + payload)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if self.open:
                self.stats.dropped += 1
        if not self.ready.done():
            self.stats.refused["connection lost" if exc is None else type(exc).__name__] += 1
            self.ready.set_exception(HandshakeFailed("connection lost during the handshake"))

    def send_text(self, payload: bytes) -> None:
        """Send one text frame (ignored once the connection is closed)."""
        if not self.closed and self.transport is not None:
            self.transport.write(text_frame(payload))

    def close(self) -> None:
        """Send a close frame and drop the connection."""
        if self.transport is not None and not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.transport.write(struct.pack("!BB", 0x88, 0x82) + _ZERO_MASK
                                     + (1000).to_bytes(2, "big"))
            self.transport.close()

    def on_message(self, payload: bytes, now: float) -> None:
        """A text or binary message arrived."""


# -- echo ---------------------------------------------------------------------------------


class EchoConnection(Connection):
    """Keeps one echo outstanding: sends, waits for the same bytes, sends again."""

    payload = b"x" * 32

    def __init__(self, *args: Any, deadline_holder: list[float], max_ops: int) -> None:
        super().__init__(*args)
        self.deadline_holder = deadline_holder
        self.max_ops = max_ops
        self.sent_at = 0.0
        self.outstanding = False

    def kick(self) -> None:
        """Send the next message."""
        self.sent_at = time.perf_counter()
        self.outstanding = True
        self.send_text(self.payload)

    def on_message(self, payload: bytes, now: float) -> None:
        stats = self.stats
        self.outstanding = False
        if payload != self.payload:
            stats.mismatched += 1
        if stats.window_start <= now <= stats.window_end:
            stats.ops += 1
            stats.latencies.append((now - self.sent_at) * 1000)
        if now < self.deadline_holder[0] and stats.ops < self.max_ops:
            self.kick()


# -- chat ---------------------------------------------------------------------------------


class ChatConnection(Connection):
    """A room member: sends its own messages one at a time and records every delivery."""

    def __init__(self, *args: Any, index: int, room_members: list[int], state: ChatState) -> None:
        super().__init__(*args)
        self.index = index
        self.room_members = room_members
        self.state = state
        self.seq = 0  # messages sent so far
        self.waiting_since = 0.0
        self.outstanding = False
        # seen[sender][seq] = deliveries of that message to this member.
        self.seen: dict[int, bytearray] = {member: bytearray() for member in room_members}

    def kick(self) -> None:
        """Send this member's next message."""
        now = time.perf_counter()
        self.waiting_since = now
        self.outstanding = True
        self.state.sent[self.index] = self.seq + 1
        self.send_text(f"{self.index} {self.seq} {time.perf_counter_ns()}".encode())
        self.seq += 1

    def on_message(self, payload: bytes, now: float) -> None:
        state = self.state
        stats = self.stats
        try:
            sender_text, seq_text, sent_text = payload.split(b" ")
            sender, seq, sent_ns = int(sender_text), int(seq_text), int(sent_text)
            seen = self.seen[sender]
        except (ValueError, KeyError):
            stats.mismatched += 1
            return
        if seq >= len(seen):
            seen.extend(bytes(seq + 64 - len(seen)))
        seen[seq] = min(seen[seq] + 1, 255)
        if stats.window_start <= now <= stats.window_end:
            stats.ops += 1
            stats.latencies.append(now * 1000 - sent_ns / 1e6)
        if sender == self.index and seq == self.seq - 1:
            self.outstanding = False
            if now < state.deadline and not state.stopping:
                self.kick()


class ChatState:
    """Shared by all members of a chat run."""

    def __init__(self, members: int) -> None:
        self.sent = [0] * members
        self.deadline = 0.0
        self.stopping = False
        self.stalls = 0


def chat_accounting(connections: list[ChatConnection], sent: list[int]) -> dict[str, int]:
    """Expected, delivered, lost and duplicated deliveries over all members."""
    expected = delivered = lost = duplicated = 0
    for connection in connections:
        for sender in connection.room_members:
            count = sent[sender]
            seen = connection.seen[sender]
            expected += count
            got = sum(1 for seq in range(min(count, len(seen))) if seen[seq])
            delivered += got
            lost += count - got
            duplicated += sum(value - 1 for value in seen if value > 1)
    return {"expected": expected, "delivered": delivered, "lost": lost,
            "duplicated": duplicated}


# -- running ----------------------------------------------------------------------------------


async def _connect_all(loop: asyncio.AbstractEventLoop, host: str, port: int,
                       factories: list[Any], timeout: float) -> list[Connection]:
    """Open every connection at once; return those whose handshake succeeded."""

    async def one(factory: Any) -> Connection | None:
        try:
            _, protocol = await asyncio.wait_for(loop.create_connection(factory, host, port),
                                                 timeout)
            await asyncio.wait_for(protocol.ready, timeout)
            return protocol  # type: ignore[no-any-return]
        except HandshakeFailed:
            return None
        except TimeoutError:
            factory.stats.refused["timeout"] += 1
            return None
        except OSError as exc:
            factory.stats.refused[type(exc).__name__] += 1
            return None

    results = await asyncio.gather(*(one(factory) for factory in factories))
    return [connection for connection in results if connection is not None]


class _Factory:
    """A protocol factory that also carries the stats (for errors before a protocol exists)."""

    def __init__(self, make: Any, stats: Stats) -> None:
        self.make = make
        self.stats = stats

    def __call__(self) -> Connection:
        return self.make()  # type: ignore[no-any-return]


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def _summary(stats: Stats, elapsed: float) -> dict[str, Any]:
    latencies = sorted(stats.latencies)
    return {
        "ops": stats.ops,
        "seconds": elapsed,
        "rate": stats.ops / elapsed if elapsed > 0 else 0.0,
        "p50": _percentile(latencies, 0.50),
        "p90": _percentile(latencies, 0.90),
        "p99": _percentile(latencies, 0.99),
        "refused": dict(stats.refused),
        "closes": dict(stats.closes),
        "dropped": stats.dropped,
        "mismatched": stats.mismatched,
        "latencies": stats.latencies,
    }


async def run_echo(args: argparse.Namespace) -> dict[str, Any]:
    """The echo mode; see the module docstring."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    deadline_holder = [0.0]
    max_ops = args.max_ops or sys.maxsize
    factories = [
        _Factory(lambda: EchoConnection(args.host, args.port, args.path, stats,
                                        deadline_holder=deadline_holder, max_ops=max_ops), stats)
        for _ in range(args.connections)
    ]
    connections = await _connect_all(loop, args.host, args.port, factories,
                                     args.connect_timeout)
    started = time.perf_counter()
    stats.window_start = started
    stats.window_end = started + args.duration
    deadline_holder[0] = stats.window_end
    for connection in connections:
        connection.kick()  # type: ignore[attr-defined]
    # Ends at the deadline, or once max_ops echoes came back (the idle-latency probe).
    while time.perf_counter() < stats.window_end and stats.ops < max_ops:
        await asyncio.sleep(0.05)
    elapsed = min(time.perf_counter(), stats.window_end) - started
    drain_end = time.perf_counter() + args.drain
    while (time.perf_counter() < drain_end and
           any(c.outstanding and not c.closed for c in connections)):  # type: ignore[attr-defined]
        await asyncio.sleep(0.02)
    unanswered = sum(1 for c in connections if c.outstanding)  # type: ignore[attr-defined]
    for connection in connections:
        connection.close()
    result = _summary(stats, elapsed)
    result.update(connected=len(connections), unanswered=unanswered)
    return result


async def run_chat(args: argparse.Namespace) -> dict[str, Any]:
    """The chat mode; see the module docstring."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    total = args.rooms * args.members
    state = ChatState(total)
    run_id = args.run_id or os.urandom(4).hex()
    factories = []
    for room in range(args.rooms):
        members = list(range(room * args.members, (room + 1) * args.members))
        for index in members:
            factories.append(_Factory(
                lambda index=index, members=members, room=room: ChatConnection(
                    args.host, args.port, f"/chat/{run_id}-{room}/", stats,
                    index=index, room_members=members, state=state),
                stats))
    connections = await _connect_all(loop, args.host, args.port, factories,
                                     args.connect_timeout)
    chat_connections: list[ChatConnection] = [c for c in connections
                                              if isinstance(c, ChatConnection)]
    if len(chat_connections) < total:
        # A member that could not join would be counted as losing everything; the refusals
        # are reported instead and only the full rooms run.
        complete_rooms = {c.index // args.members for c in chat_connections}
        for room in range(args.rooms):
            if sum(1 for c in chat_connections if c.index // args.members == room) < args.members:
                complete_rooms.discard(room)
        for connection in chat_connections:
            if connection.index // args.members not in complete_rooms:
                connection.close()
        chat_connections = [c for c in chat_connections
                            if c.index // args.members in complete_rooms]
    started = time.perf_counter()
    stats.window_start = started
    stats.window_end = state.deadline = started + args.duration
    for connection in chat_connections:
        connection.kick()
    while time.perf_counter() < state.deadline:
        await asyncio.sleep(0.05)
        if args.max_ops and stats.ops >= args.max_ops:
            break
        now = time.perf_counter()
        for connection in chat_connections:
            # A member whose own message never came back would stall forever: count it and
            # go on (the loss itself shows in the accounting).
            if connection.outstanding and now - connection.waiting_since > args.stall_timeout:
                state.stalls += 1
                connection.kick()
    state.stopping = True
    elapsed = min(time.perf_counter(), stats.window_end) - started
    drain_end = time.perf_counter() + args.drain
    while time.perf_counter() < drain_end:
        accounting = chat_accounting(chat_connections, state.sent)
        if accounting["lost"] == 0:
            break
        await asyncio.sleep(0.05)
    accounting = chat_accounting(chat_connections, state.sent)
    for connection in chat_connections:
        connection.close()
    result = _summary(stats, elapsed)
    result.update(accounting)
    result.update(connected=len(connections), members=len(chat_connections),
                  messages=sum(state.sent), stalls=state.stalls)
    return result


# -- calibration server ----------------------------------------------------------------------


class _ServerConnection(asyncio.Protocol):
    rooms: dict[bytes, set[_ServerConnection]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()
        self.path = b""
        self.open = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).split(b"\r\n")
            del self.buffer[:end + 4]
            self.path = head[0].split(b" ")[1]
            key = next(line.split(b":", 1)[1].strip() for line in head[1:]
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                                 + b"\r\n\r\n")
            self.open = True
            if self.path.startswith(b"/chat/"):
                self.rooms.setdefault(self.path, set()).add(self)
        frames, used = parse_frames(self.buffer)
        del self.buffer[:used]
        for opcode, payload in frames:
            if opcode == 8:
                self.transport.close()
                return
            size = len(payload)
            head = (struct.pack("!BB", 0x81, size) if size < 126 else
                    struct.pack("!BBH", 0x81, 126, size))
            if self.path.startswith(b"/chat/"):
                for member in self.rooms.get(self.path, ()):
                    member.transport.write(head + payload)
            else:
                self.transport.write(head + payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.rooms.get(self.path, set()).discard(self)


async def serve(args: argparse.Namespace) -> None:
    """Echo (or broadcast on ``/chat/...``) until killed; print the port first."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_ServerConnection, "127.0.0.1", args.port)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run one mode, print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("echo", "chat"):
        mode = modes.add_parser(name)
        mode.add_argument("--host", default="127.0.0.1")
        mode.add_argument("--port", type=int, required=True)
        mode.add_argument("--duration", type=float, default=10.0)
        mode.add_argument("--drain", type=float, default=5.0,
                          help="seconds to wait for outstanding messages after the run")
        mode.add_argument("--connect-timeout", type=float, default=15.0)
        mode.add_argument("--max-ops", type=int, default=0,
                          help="stop after this many echoes/deliveries (0: no limit)")
        mode.add_argument("--raw-latencies", action="store_true",
                          help="include every latency, in order (for the sequential probe)")
    echo = modes.choices["echo"]
    echo.add_argument("--path", default="/ws/echo/")
    echo.add_argument("--connections", type=int, default=50)
    chat = modes.choices["chat"]
    chat.add_argument("--rooms", type=int, default=10)
    chat.add_argument("--members", type=int, default=10)
    chat.add_argument("--run-id", default="")
    chat.add_argument("--stall-timeout", type=float, default=5.0)
    server = modes.add_parser("serve")
    server.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    loop_name = "asyncio"
    run: Any = asyncio.run
    if args.loop in ("auto", "uvloop"):
        try:
            import uvloop

            run = uvloop.run
            loop_name = "uvloop"
        except ImportError:
            if args.loop == "uvloop":
                raise
    if args.mode == "serve":
        with contextlib.suppress(KeyboardInterrupt):
            run(serve(args))
        return
    runner = run_echo if args.mode == "echo" else run_chat
    cpu_before = time.process_time()
    result = run(runner(args))
    result["client_cpu_seconds"] = time.process_time() - cpu_before
    if not args.raw_latencies:
        result.pop("latencies", None)
    result["loop"] = loop_name
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
