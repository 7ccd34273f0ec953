"""The one Django view of the benchmark."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def hello(request: HttpRequest) -> HttpResponse:
    """A plain-text greeting: the cost measured is the framework's, not the view's."""
    return HttpResponse(b"Hello, world!", content_type="text/plain")
