"""Fixtures for the interface-server tests.

autobahn builds a timer helper on txaio's reactor when a WebSocket factory is created; point it
at a private clock so unit tests never install (or touch) the global reactor.
"""

from __future__ import annotations

import txaio
from twisted.internet import task

txaio.use_twisted()
if txaio.config.loop is None:
    txaio.config.loop = task.Clock()
