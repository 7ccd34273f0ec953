"""Reading a request body that arrives in chunks on its ``body_channel``.

An interface server sends a large body as the start in ``http.request``'s ``body`` and the
rest as ``http.request.body?...`` messages: ``{"content": bytes, "more_content": bool}``, or
``{"closed": True}`` if the client went away.  The chunks are written to a
``SpooledTemporaryFile``, so a body larger than the spool size lives on disk, never whole in
memory.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import IO, Any

from channels_classic.exceptions import RequestAborted, RequestTimeout

from .errors import BadRequestMessage

__all__ = ["CHUNKS_PER_FETCH", "receive_body"]

#: Chunks taken from the body channel per layer round trip.  It is a single-reader channel, so
#: everything queued on it belongs to this request.
CHUNKS_PER_FETCH = 32


def receive_body(
    layer: Any,
    body_channel: str,
    start: bytes,
    *,
    timeout: float,
    spool_size: int,
    clock: Callable[[], float] = time.monotonic,
) -> IO[bytes]:
    """Read every chunk of a body and return it as a file positioned at its start.

    Args:
        layer: the channel layer the request came from (anything with ``fetch``).
        body_channel: the request's ``body_channel``.
        start: the request message's ``body`` (the first bytes of the body).
        timeout: seconds allowed for the whole body.  It is checked each time a blocking
            fetch returns, so it is exact to within the layer's ``receive_timeout``.
        spool_size: bytes kept in memory before the body moves to a temporary file.
        clock: monotonic time source (tests inject one).

    Raises:
        RequestTimeout: the last chunk did not arrive within ``timeout``.
        RequestAborted: a chunk said ``closed``: the client disconnected.
        BadRequestMessage: a chunk is not in the ASGI format.
    """
    # Not a `with` block: on success the open file is handed to the caller, who closes it.
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool_size, mode="w+b")  # noqa: SIM115
    try:
        spool.write(start)
        deadline = clock() + timeout
        while True:
            if clock() >= deadline:
                raise RequestTimeout(
                    f"The request body on {body_channel} did not arrive within {timeout:g} s"
                )
            for delivery in layer.fetch([body_channel], block=True, max_messages=CHUNKS_PER_FETCH):
                chunk = delivery.content
                if chunk.get("closed"):
                    raise RequestAborted(f"The client went away while sending {body_channel}")
                data = chunk.get("content", b"")
                if not isinstance(data, (bytes, bytearray)):
                    raise BadRequestMessage(
                        f"Body chunk 'content' must be bytes, not {type(data).__name__}"
                    )
                spool.write(data)
                if not chunk.get("more_content", False):
                    # The spec says anything sent after the last chunk is ignored.
                    spool.seek(0)
                    return spool
    except BaseException:
        spool.close()
        raise
