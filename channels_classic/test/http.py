"""``HttpClient``: the deprecated 1.x name of :class:`~channels_classic.test.WSClient`."""

from __future__ import annotations

import warnings
from typing import Any

from .websocket import WSClient

__all__ = ["HttpClient"]


class HttpClient(WSClient):
    """Deprecated alias of :class:`WSClient` (it never spoke HTTP)."""

    def __init__(self, **kwargs: Any) -> None:
        warnings.warn(
            "HttpClient is deprecated; use channels_classic.test.WSClient",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)
