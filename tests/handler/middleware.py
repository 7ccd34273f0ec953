"""Middleware used to check that ResponseLater and errors pass through MIDDLEWARE."""

from __future__ import annotations

import threading

from django.http import HttpResponse

#: What the middleware saw, for assertions.
events: list[str] = []
instances = 0
_lock = threading.Lock()


class RecordingMiddleware:
    """Records each response it sees and adds a header."""

    def __init__(self, get_response):
        global instances
        with _lock:
            instances += 1
        self.get_response = get_response

    def __call__(self, request):
        events.append(f"request {request.path}")
        response = self.get_response(request)
        events.append(f"response {response.status_code}")
        response["X-Recorded"] = "yes"
        return response


class CatchAllMiddleware:
    """Turns every view exception into its own 500 (as error-reporting middleware does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        events.append(f"process_exception {type(exception).__name__}")
        return HttpResponse("caught by middleware", status=500)


class LaterInProcessViewMiddleware:
    """Raises ResponseLater from process_view for one path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        if request.path == "/hello/" and request.GET.get("later"):
            from channels_classic.exceptions import ResponseLater

            raise ResponseLater()
