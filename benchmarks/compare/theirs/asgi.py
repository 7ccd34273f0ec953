"""The ASGI application Daphne serves: the same paths as the channels_classic project.

``/raw`` goes to an ``AsyncHttpConsumer``, every other HTTP path to Django's ASGI handler
(``/hello`` is the view), ``/ws/echo/`` and ``/chat/<room>/`` to WebSocket consumers.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.compare.theirs.settings")
django_application = get_asgi_application()  # sets Django up before the consumers import

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from .consumers import Chat, Echo, RawHttp  # noqa: E402

application = ProtocolTypeRouter({
    "http": URLRouter([
        path("raw", RawHttp.as_asgi()),
        re_path(r"", django_application),
    ]),
    "websocket": URLRouter([
        path("ws/echo/", Echo.as_asgi()),
        path("chat/<str:room>/", Chat.as_asgi()),
    ]),
})
