"""interface_server: HTTP and WebSocket to ASGI 1.0 channel-layer messages (Daphne 1.x's role).

It knows nothing about Django: it talks to any channels_classic channel layer.  Run it with
``interface-server myproject.asgi:channel_layer`` (or ``python -m interface_server``), or embed
it::

    from interface_server import Server, ServerConfig, build_endpoint_description_strings

    config = ServerConfig(endpoints=tuple(build_endpoint_description_strings("0.0.0.0", 8000)))
    Server(config, channel_layer).run()

The heavier names are imported lazily so ``interface_server.config`` can be used without
importing Twisted.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessLogGenerator",
    "ConfigError",
    "Server",
    "ServerConfig",
    "build_endpoint_description_strings",
    "install_reactor",
]

_LAZY = {
    "AccessLogGenerator": "interface_server.access",
    "ConfigError": "interface_server.config",
    "ServerConfig": "interface_server.config",
    "Server": "interface_server.server",
    "install_reactor": "interface_server.server",
    "build_endpoint_description_strings": "interface_server.endpoints",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
