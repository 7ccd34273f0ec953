"""``AsgiHandler``: Django's request/response cycle for one ``http.request`` message.

Calling the handler with a message returns a generator of reply messages; nothing runs until
the first one is taken.  Per request it does what Django's WSGI handler does — script prefix,
``request_started``, middleware and view, ``request_finished`` when the response is closed
(which also closes stale database connections) — with these differences:

============================================  ==============================================
situation                                     reply
============================================  ==============================================
malformed message / undecodable text          400 Bad Request (logged)
body not received within the body timeout     408 Request Timeout (logged)
client went away during the body              nothing
view raises ``ResponseLater`` or returns      nothing — another consumer answers later; works
``HttpResponseLater``                         through any ``MIDDLEWARE``
exception in a view or middleware             Django's own handling: ``handler500``/debug page,
                                              logged on ``django.request``
exception while streaming, after the headers  the response is ended early (logged)
============================================  ==============================================
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Generator, Iterator
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers import base
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import set_script_prefix

from channels_classic.exceptions import RequestAborted, RequestTimeout, ResponseLater

from .errors import BadRequestMessage
from .request import AsgiRequest
from .response import CHUNK_SIZE, chunk_bytes, encode_response

__all__ = ["AsgiHandler", "HttpResponseLater"]

logger = logging.getLogger("channels_classic.handler")
request_logger = logging.getLogger("django.request")


class HttpResponseLater(HttpResponse):
    """The response of a view that another consumer will answer: nothing is sent.

    A view may return it, or raise :class:`~channels_classic.exceptions.ResponseLater`, which
    the handler turns into one.  Middleware sees it like any response on the way out (so, e.g.,
    a modified session is saved), but whatever headers or cookies they add are never sent:
    the consumer that answers later builds the real response.
    """

    #: The status the unreleased Channels 1.x sentinel used; never sent to a client.
    status_code = 113


class AsgiHandler(base.BaseHandler):
    """Turns ``http.request`` messages into Django responses encoded as ASGI messages.

    One instance may be shared by several worker threads: middleware is loaded once, on first
    use, under a lock.
    """

    request_class = AsgiRequest
    #: Largest ``content`` per reply message.
    chunk_size = CHUNK_SIZE

    _middleware_lock = threading.Lock()

    def __call__(self, message: Any) -> Generator[dict[str, Any], None, None]:
        """Handle one ``http.request`` message; yields the reply messages in order."""
        self.ensure_middleware()
        signals.request_started.send(sender=self.__class__, message=message)
        request: AsgiRequest | None = None
        response: HttpResponseBase | None
        try:
            request = self.request_class(message)
            set_script_prefix(request.script_name or "/")
            request.load_body()
        except (BadRequestMessage, UnicodeDecodeError, RequestTimeout, RequestAborted) as exc:
            if request is not None:
                request.close()
            response = self.error_response(message, exc)
            if response is None:
                signals.request_finished.send(sender=self.__class__)
                return
        except Exception:
            # Not the client's fault: a bug in a request subclass or the body reader.
            if request is not None:
                request.close()
            if settings.DEBUG_PROPAGATE_EXCEPTIONS:
                raise
            logger.exception("Could not build a request from an http.request message")
            response = self.plain_server_error()
        else:
            response = self.response_for(request)
        response._handler_class = self.__class__  # request_finished's sender, as in Django
        if isinstance(response, HttpResponseLater):
            response.close()
            return
        yield from self.safely_encode(response, request)

    # -- set-up -------------------------------------------------------------------------------

    def ensure_middleware(self) -> None:
        """Load ``MIDDLEWARE`` once, even when several threads call the handler at once."""
        if self._middleware_chain is None:
            with self._middleware_lock:
                if self._middleware_chain is None:
                    self.load_middleware()

    # -- errors -------------------------------------------------------------------------------

    @staticmethod
    def error_response(message: Any, exc: BaseException) -> HttpResponse | None:
        """The response for a request that could not be built (None: send nothing).

        The one place where request-building failures become status codes.
        """
        reply = getattr(getattr(message, "reply_channel", None), "name", None)
        if isinstance(exc, RequestAborted):
            logger.info("Request on %s abandoned: %s", reply, exc)
            return None
        if isinstance(exc, RequestTimeout):
            logger.warning("408 for the request on %s: %s", reply, exc)
            return HttpResponse(
                "Request Timeout: the request body was not received in time.\n",
                status=408,
                content_type="text/plain; charset=utf-8",
            )
        logger.warning("400 for a malformed http.request on %s: %s", reply, exc)
        return HttpResponse(
            "Bad Request: the request could not be understood.\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )

    def response_for(self, request: AsgiRequest) -> HttpResponseBase:
        """Run the request through middleware and view.

        Django already turns every exception into a response; this is the last resort when
        even that fails (e.g. a broken ``handler500``), unless ``DEBUG_PROPAGATE_EXCEPTIONS``.
        """
        try:
            return self.get_response(request)
        except Exception:
            if settings.DEBUG_PROPAGATE_EXCEPTIONS:
                raise
            request_logger.error(
                "Internal Server Error: %s", request.path, exc_info=sys.exc_info(),
                extra={"status_code": 500, "request": request},
            )
            return self.plain_server_error()

    @staticmethod
    def plain_server_error() -> HttpResponse:
        """A bare 500, with the traceback under ``DEBUG``."""
        body = traceback.format_exc() if settings.DEBUG else "Internal Server Error"
        return HttpResponse(body, status=500, content_type="text/plain; charset=utf-8")

    def safely_encode(
        self, response: HttpResponseBase, request: HttpRequest | None
    ) -> Generator[dict[str, Any], None, None]:
        """Encode ``response``; an error before the first message becomes a plain 500, an
        error after it (a streaming iterator raising) ends the response early."""
        messages = self.encode_response(response)
        started = False
        try:
            for reply in messages:
                started = True
                yield reply
        except Exception:
            path = request.path if request is not None else "?"
            if started:
                request_logger.error(
                    "Error while streaming the response to %s; response cut short", path,
                    exc_info=True,
                )
                yield {"content": b"", "more_content": False}
            else:
                request_logger.error(
                    "Could not encode the response to %s", path, exc_info=True,
                    extra={"status_code": 500},
                )
                yield from encode_response(self.plain_server_error())
        finally:
            messages.close()

    # -- ResponseLater ------------------------------------------------------------------------

    def _get_response(self, request: HttpRequest) -> HttpResponseBase:
        # Django wraps each middleware in convert_exception_to_response, which would turn
        # ResponseLater into a 500 on its way out; becoming a response here, inside all of
        # them, lets it pass through like any other response.
        try:
            return super()._get_response(request)
        except ResponseLater:
            return HttpResponseLater()

    def process_exception_by_middleware(
        self, exception: Exception, request: HttpRequest
    ) -> HttpResponseBase | None:
        """Django's hook, except that ``ResponseLater`` skips ``process_exception``
        middleware (it is not an error)."""
        if isinstance(exception, ResponseLater):
            raise exception
        return super().process_exception_by_middleware(exception, request)

    # -- encoding (1.x public API) ------------------------------------------------------------

    @classmethod
    def encode_response(
        cls, response: HttpResponseBase
    ) -> Generator[dict[str, Any], None, None]:
        """Yield the ASGI ``http.response`` messages for a Django response, then close it.

        Usable on its own in a consumer::

            for chunk in AsgiHandler.encode_response(response):
                message.reply_channel.send(chunk)
        """
        return encode_response(response, cls.chunk_size)

    @classmethod
    def chunk_bytes(cls, data: bytes) -> Iterator[tuple[bytes, bool]]:
        """Yield ``(piece, is_last)`` for ``data`` cut into ``chunk_size`` pieces."""
        return chunk_bytes(data, cls.chunk_size)
