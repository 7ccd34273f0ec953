"""Two-sided error taxonomy and the one place that maps errors to HTTP answers.

``ClientError`` is the peer's fault (a malformed request, a limit exceeded): the client gets a
4xx and the connection is closed.  ``AppError`` is the application's fault (an invalid reply
message): 500 while the response has not started, otherwise the connection is cut.
``Overloaded`` is nobody's fault: the channel layer is full or unreachable (503).

Every error carries its ``status`` hint; :func:`error_response` renders the body, so the texts
and headers of error pages are defined once.
"""

from __future__ import annotations

from http import HTTPStatus

__all__ = [
    "AppError",
    "ClientError",
    "InvalidReply",
    "Overloaded",
    "ServerError",
    "error_response",
]


class ServerError(Exception):
    """Base class; ``status`` is the HTTP status the client should get."""

    status: int = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ClientError(ServerError):
    """The request is malformed or exceeds a limit (4xx)."""

    status = 400


class AppError(ServerError):
    """The application misbehaved (500 if the response has not started)."""

    status = 500


class InvalidReply(AppError):
    """A reply message on a reply channel does not follow the ASGI 1.0 format."""


class Overloaded(ServerError):
    """The channel layer cannot take the message now (503)."""

    status = 503


_DETAILS = {
    400: "The request could not be understood.",
    408: "The request was not received in time.",
    413: "The request body is larger than this server accepts.",
    431: "The request line or headers are larger than this server accepts.",
    500: "The server failed to process the request.",
    503: "The server is busy; try again later.",
}


def error_response(
    status: int, detail: str | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Return ``(status, headers, body)`` of the plain-text error page for ``status``.

    The page never echoes request data, so it cannot be used for reflection attacks.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    text = detail or _DETAILS.get(status, phrase)
    body = f"{status} {phrase}\n\n{text}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
    ]
    return status, headers, body
