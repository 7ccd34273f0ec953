"""Views the handler tests route to (``tests.handler.urls``)."""

from __future__ import annotations

import hashlib
import json

from django.http import (
    FileResponse,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import reverse

from channels_classic.exceptions import ResponseLater
from channels_classic.handler import HttpResponseLater

#: Filled in by tests that need a view to call back into them.
hooks: dict = {}


def hello(request):
    return HttpResponse(f"Hello {request.path}")


def describe(request):
    """Everything the request builder produced, as JSON."""
    meta = {key: value for key, value in request.META.items() if isinstance(value, (str, int))}
    return JsonResponse({
        "meta": meta,
        "get": {key: request.GET.getlist(key) for key in request.GET},
        "cookies": request.COOKIES,
        "path": request.path,
        "path_info": request.path_info,
        "script_name": request.script_name,
        "scheme": request.scheme,
        "secure": request.is_secure(),
        "encoding": request.encoding,
        "method": request.method,
        "reversed": reverse("hello"),
    })


def echo_body(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


def echo_post(request):
    return JsonResponse({key: request.POST.getlist(key) for key in request.POST})


def upload(request):
    files = {}
    for name, uploaded in request.FILES.items():
        digest = hashlib.sha256()
        for chunk in uploaded.chunks():
            digest.update(chunk)
        files[name] = {
            "class": type(uploaded).__name__,
            "size": uploaded.size,
            "sha256": digest.hexdigest(),
            "on_disk": hasattr(uploaded, "temporary_file_path"),
        }
    return JsonResponse({
        "files": files,
        "fields": {key: request.POST.getlist(key) for key in request.POST},
        # SpooledTemporaryFile moves to a real temporary file past its size.
        "body_spooled_to_disk": bool(getattr(request._body_file, "_rolled", False)),
    })


def later(request):
    raise ResponseLater()


def later_1x_spelling(request):
    raise request.ResponseLater()


def later_return(request):
    return HttpResponseLater()


def broken(request):
    raise RuntimeError("the view is broken")


def stream(request):
    def parts():
        for index in range(3):
            hook = hooks.get("between_parts")
            if hook is not None:
                hook(index)
            yield f"part{index};".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


def stream_async(request):
    async def parts():
        for index in range(3):
            yield f"apart{index};".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


def stream_breaks(request):
    def parts():
        yield b"first;"
        raise RuntimeError("the stream broke")

    return StreamingHttpResponse(parts())


def file(request):
    return FileResponse(open(hooks["file_path"], "rb"), content_type="application/octet-stream")


def big(request):
    return HttpResponse(b"x" * int(request.GET["size"]), content_type="text/plain")


def cookies(request):
    response = HttpResponse("cookies")
    response.set_cookie("first", "1")
    response.set_cookie("second", "two", httponly=True, path="/p")
    response["X-Custom-Header"] = "Value"
    return response


def server_error(request):
    """handler500: Django's normal 500 path ends here."""
    if hooks.get("handler500_fails"):
        raise KeyError("handler500 is broken too")
    return HttpResponse("custom 500 page", status=500)


def json_view(request):
    return HttpResponse(json.dumps({"ok": True}), content_type="application/json")
