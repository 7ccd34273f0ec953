"""Routing of the real-process test project."""

from channels_classic.routing import route

from . import consumers

channel_routing = [
    route("test.echo", consumers.echo),
    route("test.slow", consumers.slow),
    route("test.boom", consumers.boom),
    route("test.later", consumers.later),
    route("test.fatal", consumers.fatal),
    route("test.db", consumers.db),
    route("test.filtered", consumers.filtered, kind=r"^ok$"),
    route("http.request", consumers.root_path_probe, path=r"^/probe/root-path/$"),
    route("http.request", consumers.http_slow, path=r"^/slow/$"),
    route("websocket.connect", consumers.deny, path=r"^/deny/$"),
    route("websocket.receive", consumers.ws_echo, path=r"^/echo/$"),
]
