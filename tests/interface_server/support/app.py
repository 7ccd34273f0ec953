"""A small ASGI 1.0 application that the interface-server tests talk to through real sockets.

It consumes ``http.request`` and ``websocket.*`` from a channel layer in a thread (or in its own
process, for the Redis tests) and answers according to the request path, so each test can ask
for the behaviour it needs: ``/echo`` describes the request it got, ``/stream`` streams,
``/never`` never answers, ``/ws/reject`` refuses a socket, a ``close:4001`` text frame closes
it...  Every message it receives is recorded; the tests read the record (and pause or resume
the app) through a tiny HTTP control server whose port is written to a file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from channels_classic.layers.base import ChannelFull

APP_CHANNELS = [
    "http.request",
    "http.disconnect",
    "websocket.connect",
    "websocket.receive",
    "websocket.disconnect",
]


def encode(value: Any) -> Any:
    """JSON-friendly copy of a message: bytes become {"b64": ...}."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode(item) for item in value]
    return value


class TestApp:
    """Consumes the app channels of ``layer`` in a background thread."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.lock = threading.Lock()
        self.record: list[dict[str, Any]] = []
        self.running = threading.Event()
        self.running.set()
        self.parked = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self.loop, name="test-app", daemon=True)

    # -- plumbing --------------------------------------------------------------------------

    def start(self) -> TestApp:
        self.thread.start()
        return self

    def loop(self) -> None:
        while not self.stopped:
            if not self.running.is_set():
                self.parked.set()
                self.running.wait()
                self.parked.clear()
            try:
                deliveries = self.layer.fetch(APP_CHANNELS, block=True, max_messages=50)
            except Exception as exc:  # e.g. Redis restarting: try again
                print(f"test app: fetch failed: {exc!r}", flush=True)
                time.sleep(0.05)
                continue
            for delivery in deliveries:
                with self.lock:
                    self.record.append({"channel": delivery.channel, "content": delivery.content})
                try:
                    self.handle(delivery.channel, delivery.content)
                except Exception as exc:
                    print(f"test app: error handling {delivery.channel}: {exc!r}", flush=True)

    def reply(self, channel: str, message: dict[str, Any]) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.layer.send(channel, message)
                return
            except ChannelFull:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def later(self, delay: float, function: Any, *args: Any) -> None:
        timer = threading.Timer(delay, function, args)
        timer.daemon = True
        timer.start()

    # -- behaviour -------------------------------------------------------------------------

    def handle(self, channel: str, message: dict[str, Any]) -> None:
        if channel == "http.request":
            if message.get("body_channel"):
                threading.Thread(target=self.read_body_then_answer, args=(message,),
                                 daemon=True).start()
            else:
                self.http(message, message.get("body", b""), chunks=0)
        elif channel == "websocket.connect":
            self.ws_connect(message)
        elif channel == "websocket.receive":
            self.ws_receive(message)

    def read_body_then_answer(self, message: dict[str, Any]) -> None:
        body = bytearray(message.get("body", b""))
        chunks = 0
        while True:
            deliveries = self.layer.fetch([message["body_channel"]], block=True)
            if not deliveries:
                continue
            chunk = deliveries[0].content
            with self.lock:
                self.record.append({"channel": "body", "content": {
                    "closed": chunk.get("closed", False),
                    "more_content": chunk.get("more_content", False),
                    "size": len(chunk.get("content", b"")),
                }})
            if chunk.get("closed"):
                return
            chunks += 1
            body.extend(chunk.get("content", b""))
            if not chunk.get("more_content", False):
                break
        self.http(message, bytes(body), chunks)

    def http(self, message: dict[str, Any], body: bytes, chunks: int) -> None:
        reply = message["reply_channel"]
        path = message["path"]
        query = {k: v[0] for k, v in parse_qs(message["query_string"].decode("latin-1")).items()}
        if path == "/hello":
            self.reply(reply, {"status": 200, "headers": [[b"content-type", b"text/plain"]],
                               "content": b"Hello, world!"})
            return
        if path == "/never":
            return
        if path == "/slow":
            self.later(float(query.get("delay", "1")), self.reply, reply,
                       {"status": 200, "content": b"slow"})
            return
        if path == "/stream":
            self.stream(reply, int(query.get("chunks", "3")), float(query.get("delay", "0")),
                        int(query.get("size", "5")), float(query.get("tail", "0")))
            return
        if path == "/status":
            self.reply(reply, {"status": int(query.get("code", "200")), "content": b"status"})
            return
        if path == "/big":
            size = int(query.get("size", "1000"))
            piece = 256 * 1024
            sent = 0
            first = True
            while True:
                part = min(piece, size - sent)
                sent += part
                more = sent < size
                msg: dict[str, Any] = {"content": b"x" * part, "more_content": more}
                if first:
                    msg.update(status=200, headers=[[b"content-type", b"text/plain"]])
                    first = False
                self.reply(reply, msg)
                if not more:
                    return
        if path == "/invalid":
            self.reply(reply, {"content": b"chunk before response"})
            return
        if path == "/badheader":
            self.reply(reply, {"status": 200, "headers": [[b"x-bad", b"a\r\nb"]]})
            return
        if path == "/twice":
            self.reply(reply, {"status": 200, "content": b"one", "more_content": True})
            self.reply(reply, {"status": 200, "content": b"two"})
            return
        if path == "/headers":
            self.reply(reply, {"status": 201, "headers": [
                [b"Set-Cookie", b"a=1"], [b"set-cookie", b"b=2"], [b"X-Custom", b"yes"]],
                "content": b"ok"})
            return
        if path == "/extra-keys":
            self.reply(reply, {"status": 200, "content": b"extra", "reply_channel": reply,
                               "whatever": 1})
            return
        description = {
            "method": message["method"],
            "path": path,
            "query_string": message["query_string"].decode("latin-1"),
            "root_path": message.get("root_path"),
            "scheme": message.get("scheme"),
            "http_version": message.get("http_version"),
            "client": message.get("client"),
            "server": message.get("server"),
            "headers": [[n.decode("latin-1"), v.decode("latin-1")]
                        for n, v in message.get("headers", [])],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_channel": bool(message.get("body_channel")),
            "chunks": chunks,
        }
        content = json.dumps(description).encode()
        self.reply(reply, {"status": 200, "headers": [[b"content-type", b"application/json"]],
                           "content": content})

    def stream(self, reply: str, chunks: int, delay: float, size: int, tail: float) -> None:
        """Status + ``size`` bytes, then ``chunks`` chunks ``delay`` apart.  With ``tail``
        the response declares its content-length and the last, empty message comes ``tail``
        seconds after the last byte (as a file streamed in pieces ends)."""
        headers = [[b"content-length", str(size * (chunks + 1)).encode()]] if tail else []
        self.reply(reply, {"status": 200, "headers": headers, "content": b"s" * size,
                           "more_content": True})

        def send_rest() -> None:
            for index in range(chunks):
                time.sleep(delay)
                self.reply(reply, {"content": b"c" * size,
                                   "more_content": bool(tail) or index < chunks - 1})
            if tail:
                time.sleep(tail)
                self.reply(reply, {"content": b"", "more_content": False})

        threading.Thread(target=send_rest, daemon=True).start()

    def ws_connect(self, message: dict[str, Any]) -> None:
        reply = message["reply_channel"]
        path = message["path"]
        query = {k: v[0] for k, v in parse_qs(message["query_string"].decode("latin-1")).items()}
        if path == "/ws/never":
            return
        if path == "/ws/reject":
            self.reply(reply, {"close": True})
        elif path == "/ws/accept-false":
            self.reply(reply, {"accept": False, "text": "ignored"})
        elif path == "/ws/subprotocol":
            self.reply(reply, {"accept": True, "subprotocol": query.get("p")})
        elif path == "/ws/implicit":
            self.reply(reply, {"text": "hello"})
        elif path == "/ws/accept-close":
            self.reply(reply, {"text": "bye", "close": 4001})
        elif path == "/ws/slow-accept":
            self.later(float(query.get("delay", "1")), self.reply, reply, {"accept": True})
        elif path == "/ws/describe":
            self.reply(reply, {"accept": True, "text": json.dumps(encode({
                k: v for k, v in message.items() if k != "reply_channel"}))})
        else:
            self.reply(reply, {"accept": True})

    def ws_receive(self, message: dict[str, Any]) -> None:
        reply = message["reply_channel"]
        text = message.get("text")
        if text is None:
            self.reply(reply, {"bytes": message["bytes"]})
            return
        command, _, argument = text.partition(":")
        if command == "close":
            self.reply(reply, {"close": int(argument) if argument else True})
        elif command == "both":
            self.reply(reply, {"text": "a", "bytes": b"b"})
            self.reply(reply, {"text": "after-both"})
        elif command == "empty":
            self.reply(reply, {"text": ""})
        elif command == "empty-bytes":
            self.reply(reply, {"bytes": b""})
        elif command == "forward":
            self.reply(reply, dict(message))
        elif command == "big":
            self.reply(reply, {"bytes": b"x" * int(argument)})
        elif command == "flood":
            count, _, size = argument.partition(":")
            for _ in range(int(count)):
                self.reply(reply, {"bytes": b"f" * int(size or "1000")})
        elif command == "accept":
            self.reply(reply, {"accept": True})
            self.reply(reply, {"text": "still-open"})
        elif command == "order":
            self.reply(reply, {"text": str(message["order"])})
        else:
            self.reply(reply, {"text": text})


class ControlServer:
    """HTTP control API for the tests: /messages, /pause, /resume, /clear."""

    def __init__(self, app: TestApp) -> None:
        self.app = app
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                control.handle(self)

            do_POST = do_GET  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        app = self.app
        path = request.path
        if path == "/messages":
            with app.lock:
                body = json.dumps(encode(app.record)).encode()
        elif path == "/pause":
            # Return only once the app loop is parked, so nothing more is consumed.
            app.running.clear()
            app.parked.wait(10)
            body = b"{}"
        elif path == "/resume":
            app.running.set()
            body = b"{}"
        elif path == "/clear":
            with app.lock:
                app.record.clear()
            body = b"{}"
        else:
            request.send_response(404)
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def serve(layer: Any, control_file: str | None) -> TestApp:
    """Start the app and its control server; write the control port to ``control_file``."""
    app = TestApp(layer).start()
    control = ControlServer(app)
    if control_file:
        Path(control_file).write_text(str(control.port))
    return app
