"""Which channels a worker listens on: the router's channels filtered by glob lists."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

__all__ = ["select_channels"]


def select_channels(
    channels: Iterable[str],
    only: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[str]:
    """Return ``channels`` kept by ``only`` and not removed by ``exclude``, sorted.

    Both lists hold case-sensitive :func:`fnmatch.fnmatchcase` globs (``websocket.*``), as
    ``runworker --only-channels`` / ``--exclude-channels`` did in Channels 1.x.  An empty or
    missing ``only`` keeps everything.
    """
    selected = set(channels)
    if only:
        selected = {name for name in selected if any(fnmatch.fnmatchcase(name, g) for g in only)}
    if exclude:
        selected = {
            name for name in selected if not any(fnmatch.fnmatchcase(name, g) for g in exclude)
        }
    return sorted(selected)
