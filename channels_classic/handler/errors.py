"""Errors the HTTP handler maps to responses (see ``AsgiHandler.error_response``)."""

from __future__ import annotations

__all__ = ["BadRequestMessage"]


class BadRequestMessage(ValueError):
    """An ``http.request`` message (or body chunk) that breaks the ASGI 1.0 format.

    The message says which key is wrong and how.  It is the client's (or its interface
    server's) fault, so the handler answers 400 Bad Request and logs it; the worker carries on.
    """

    status_code = 400
