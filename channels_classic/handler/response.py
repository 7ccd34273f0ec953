"""Django ``HttpResponse`` objects → ASGI 1.0 ``http.response`` messages.

A response goes out as one *Response* message (``status``, ``headers``, ``content``,
``more_content``) followed, when there is more, by *Response Chunk* messages (``content``,
``more_content``); the last one has ``more_content=False``.  Bodies are cut into
:data:`CHUNK_SIZE` pieces so every message stays well under the layer's 1 MB message limit.

* Ordinary responses: the first message carries the status, the headers and the first piece.
* Streaming responses (``StreamingHttpResponse``, ``FileResponse``): the first message carries
  only the status and headers, so the client sees them before the first part is produced (long
  poll, server-sent events); each part follows as it is produced, and an empty final message
  ends the response.  Asynchronous iterators are driven one part at a time.

Header names are lower-cased on the wire (the ASGI rule; HTTP/1.1 names are case-insensitive
and the interface server may re-capitalise them); values are latin-1 bytes; every cookie is its
own ``set-cookie`` header.  The response is closed (files, ``request_finished``) when the
message generator finishes or is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any, TypedDict

from django.http import FileResponse, HttpResponseBase

__all__ = [
    "CHUNK_SIZE",
    "ResponseChunkMessage",
    "ResponseMessage",
    "chunk_bytes",
    "encode_response",
    "response_headers",
]

#: Largest ``content`` in one message (Channels 1.x's value; half the layer's message limit).
CHUNK_SIZE = 512 * 1024


class ResponseMessage(TypedDict):
    """The first message of a response."""

    status: int
    headers: list[list[bytes]]
    content: bytes
    more_content: bool


class ResponseChunkMessage(TypedDict):
    """Every later message of a response."""

    content: bytes
    more_content: bool


def chunk_bytes(data: bytes, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(piece, is_last)`` for ``data`` cut into ``chunk_size`` pieces.

    Empty data yields one empty, last piece, so a response always has a final message.
    """
    if not data:
        yield data, True
        return
    for position in range(0, len(data), chunk_size):
        end = position + chunk_size
        yield data[position:end], end >= len(data)


def response_headers(response: HttpResponseBase) -> list[list[bytes]]:
    """The response's headers as ``[name, value]`` byte pairs, names lower-cased.

    Django has already checked them (names ASCII, values latin-1 or MIME-encoded), so the
    encoding cannot fail for a response built through Django's API.
    """
    headers = [
        [name.lower().encode("ascii"), value.encode("latin-1")]
        for name, value in response.items()
    ]
    for morsel in response.cookies.values():
        headers.append([b"set-cookie", morsel.OutputString().encode("latin-1")])
    return headers


def _drive(parts: AsyncIterator[bytes]) -> Iterator[bytes]:
    """Iterate an async iterator from synchronous code, one part at a time.

    The worker thread has no event loop of its own, so a private one runs each step; unlike
    Django's synchronous fallback this does not collect the whole stream before sending.
    """
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                part = loop.run_until_complete(parts.__anext__())
            except StopAsyncIteration:
                return
            yield part
    finally:
        try:
            aclose = getattr(parts, "aclose", None)
            if aclose is not None:
                loop.run_until_complete(aclose())
        finally:
            loop.close()


def _streaming_parts(response: Any) -> Iterator[bytes]:
    if getattr(response, "is_async", False):
        return _drive(response.streaming_content)
    return iter(response.streaming_content)


def encode_response(
    response: HttpResponseBase, chunk_size: int = CHUNK_SIZE
) -> Generator[dict[str, Any], None, None]:
    """Yield the ASGI messages for ``response``, then close it.

    A generator: streaming content is pulled from the response only as messages are taken,
    and ``response.close()`` runs when the generator is exhausted or closed.
    """
    if isinstance(response, FileResponse) and "block_size" not in vars(response):
        # Django's 4 KB default would mean 128 layer messages per 512 KB.
        response.block_size = chunk_size
    try:
        status = response.status_code
        headers = response_headers(response)
        if response.streaming:
            yield {"status": status, "headers": headers, "content": b"", "more_content": True}
            for part in _streaming_parts(response):
                for piece, _ in chunk_bytes(part, chunk_size):
                    # An empty part carries nothing; the final message ends the response.
                    if piece:
                        yield {"content": piece, "more_content": True}
            yield {"content": b"", "more_content": False}
        else:
            first = True
            for piece, last in chunk_bytes(response.content, chunk_size):
                if first:
                    yield {
                        "status": status,
                        "headers": headers,
                        "content": piece,
                        "more_content": not last,
                    }
                    first = False
                else:
                    yield {"content": piece, "more_content": not last}
    finally:
        response.close()
