"""HTTP through Django: ``http.request`` messages in, Django views, ``http.response`` out.

Public names (Channels 1.x import paths, under ``channels_classic.handler``):

* :class:`AsgiRequest` — an ``HttpRequest`` built from an ``http.request`` message;
* :class:`AsgiHandler` — Django's request/response cycle for one message, yielding the reply
  messages; ``AsgiHandler.encode_response(response)`` and ``chunk_bytes(data)`` also work alone;
* :class:`ViewConsumer` — the default ``http.request`` consumer built on it;
* :class:`HttpResponseLater` — what a view returns (or ``ResponseLater`` it raises) when
  another consumer will answer.

The package is split by job: ``request`` (message → request, pure), ``body`` (reading chunked
bodies), ``response`` (response → messages, pure), ``asgi_handler`` and ``consumer``.
"""

from __future__ import annotations

from channels_classic.exceptions import RequestAborted, RequestTimeout, ResponseLater

from .asgi_handler import AsgiHandler, HttpResponseLater
from .consumer import ViewConsumer
from .errors import BadRequestMessage
from .request import AsgiRequest
from .response import CHUNK_SIZE

__all__ = [
    "CHUNK_SIZE",
    "AsgiHandler",
    "AsgiRequest",
    "BadRequestMessage",
    "HttpResponseLater",
    "RequestAborted",
    "RequestTimeout",
    "ResponseLater",
    "ViewConsumer",
]
