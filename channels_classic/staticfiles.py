"""Serving ``STATIC_URL`` in development through the channel layer.

``runserver`` (with ``django.contrib.staticfiles`` installed, under ``DEBUG`` or
``--insecure``) and ``runworker`` (under ``DEBUG``) route ``http.request`` to
:class:`StaticFilesConsumer` instead of the plain ``ViewConsumer``.  Requests under
``STATIC_URL`` are answered by ``django.contrib.staticfiles.views.serve`` from the static-files
finders, without middleware, exactly as Django's own development server does; everything else
goes to the views.  Only a local ``STATIC_URL`` (a path, no host) is served.  A missing file
gets Django's 404 handling (the technical 404 page under ``DEBUG``, ``handler404`` otherwise);
a path that escapes the static directories gets Django's 400 for suspicious operations.

This is for development: in production collect static files and serve them from the web
server or a CDN.
"""

from __future__ import annotations

from urllib.parse import urlparse
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles.views import serve
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponseBase

from .handler import AsgiHandler, ViewConsumer

__all__ = ["StaticFilesConsumer", "StaticFilesHandler", "static_path_prefix"]


def static_path_prefix() -> str | None:
    """The URL path ``STATIC_URL`` serves, or None when it is unset or on another host.

    Read per request: Django prefixes a relative ``STATIC_URL`` with the current script
    prefix, which is set per request.
    """
    static_url = settings.STATIC_URL
    if not static_url:
        return None
    parsed = urlparse(static_url)
    if parsed.netloc or not parsed.path:
        return None
    return str(parsed.path)


class StaticFilesHandler(AsgiHandler):
    """An :class:`~channels_classic.handler.AsgiHandler` that also serves static files."""

    def should_handle(self, path: str) -> bool:
        """True if ``path`` (a full request path) is under a local ``STATIC_URL``."""
        prefix = static_path_prefix()
        return prefix is not None and path.startswith(prefix)

    def file_path(self, path: str) -> str:
        """The static file's relative path, for the finders."""
        prefix = static_path_prefix() or ""
        return url2pathname(path.removeprefix(prefix))

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        """Serve static files directly; hand every other request to the views."""
        if self.should_handle(request.path):
            try:
                return serve(request, self.file_path(request.path), insecure=True)
            except Exception as exc:
                # Django's mapping: Http404 → 404, a path escaping the static roots
                # (SuspiciousFileOperation) → 400, anything else → handler500.
                return response_for_exception(request, exc)
        return super().get_response(request)


class StaticFilesConsumer(ViewConsumer):
    """A :class:`~channels_classic.handler.ViewConsumer` that serves ``STATIC_URL`` too."""

    handler_class = StaticFilesHandler
