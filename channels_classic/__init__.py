"""channels_classic: the Django Channels 1.x programming model and runtime, on current stacks.

Code written for Channels 1.x runs with ``channels`` replaced by ``channels_classic`` in its
imports.  The names re-exported here (``Channel``, ``Group``, ``route``...) are imported lazily
so ``__version__`` can be read without Django installed or configured.
"""

from __future__ import annotations

from typing import Any

__version__ = "1.2.0"

#: The alias used when no channel layer is named.
DEFAULT_CHANNEL_LAYER = "default"

_LAZY = {
    "channel_layers": "channels_classic.asgi",
    "Channel": "channels_classic.channel",
    "Group": "channels_classic.channel",
    "route": "channels_classic.routing",
    "route_class": "channels_classic.routing",
    "include": "channels_classic.routing",
}

__all__ = [
    "DEFAULT_CHANNEL_LAYER",
    "Channel",
    "Group",
    "__version__",
    "channel_layers",
    "include",
    "route",
    "route_class",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
