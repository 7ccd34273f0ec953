"""Consumers the real-process tests drive; each reports what it saw on channels."""

from __future__ import annotations

import os
import sqlite3
import sys
import time

from django.db import connection

from channels_classic.channel import Channel
from channels_classic.exceptions import ConsumeLater, DenyConnection


def echo(message):
    """Reply with the message number and this process's pid."""
    message.reply_channel.send({"n": message["n"], "pid": os.getpid()})


def slow(message):
    """Announce the start at once, work for ``seconds``, then reply (buffered)."""
    Channel(message["events"]).send(
        {"started": message["n"], "pid": os.getpid()}, immediately=True
    )
    # Stands in for real work; the tests stop the worker while this runs.
    time.sleep(message["seconds"])
    message.reply_channel.send({"done": message["n"], "pid": os.getpid()})


def boom(message):
    """A consumer bug."""
    raise ValueError("boom from the test consumer")


def later(message):
    """Never ready: always put the message back."""
    raise ConsumeLater()


def fatal(message):
    """A consumer that ends its thread (SystemExit escapes every ``except Exception``)."""
    raise SystemExit("fatal test consumer")


_previous_raw_connection = []


def db(message):
    """Report whether the database connection of the previous message was closed."""
    previous_closed = None
    if _previous_raw_connection:
        try:
            _previous_raw_connection[0].execute("select 1")
            previous_closed = False
        except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
            previous_closed = True
    with connection.cursor() as cursor:
        cursor.execute("select 1")
    _previous_raw_connection[:] = [connection.connection]
    message.reply_channel.send({"previous_closed": previous_closed})


def deny(message):
    """Refuse the WebSocket."""
    raise DenyConnection()


def ws_echo(message):
    """Echo WebSocket text frames (used by the runserver tests)."""
    message.reply_channel.send({"text": message.content.get("text") or ""})


def filtered(message):
    """Only routed for ``kind == "ok"``."""
    message.reply_channel.send({"filtered": True})


def root_path_probe(message):
    """Answer an HTTP request with the ``root_path`` the interface server sent."""
    message.reply_channel.send({
        "status": 200,
        "headers": [[b"content-type", b"text/plain"]],
        "content": f"root_path={message.content.get('root_path')!r}".encode(),
        "more_content": False,
    })


def http_slow(message):
    """Say on stdout that it started, work for ``?seconds=``, then answer 200."""
    query = message.content.get("query_string") or b""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    seconds = float(dict(part.split("=", 1) for part in query.split("&") if "=" in part)
                    .get("seconds", "1"))
    sys.stdout.write(f"slow consumer started for {seconds} s\n")  # one write: no interleaving
    sys.stdout.flush()
    time.sleep(seconds)  # stands in for a slow view
    message.reply_channel.send({
        "status": 200, "headers": [], "content": b"slow done", "more_content": False,
    })
