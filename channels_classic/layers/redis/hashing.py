"""Rendezvous (highest random weight) hashing of names onto Redis shards.

Every shard scores every name with a keyed hash; the name lives on the shard with the highest
score.  Adding or removing a shard therefore only moves the names that shard wins or loses —
about 1/N of them — unlike the range partitioning of asgi_redis, which remapped most
process-local channels and groups whenever the host list changed.

Shards are identified by a stable string (their address, or a Sentinel service name), not by
their position in the list, so reordering ``hosts`` moves nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["RendezvousRing"]

#: Names whose shard is remembered; single-reader (``?``) names are never cached because each
#: is used for one conversation only.
_CACHE_LIMIT = 4096


class RendezvousRing:
    """Maps names to shard indexes.

    Args:
        shard_ids: one stable identifier per shard, in the order the caller indexes shards.
    """

    def __init__(self, shard_ids: Sequence[str]) -> None:
        if not shard_ids:
            raise ValueError("At least one shard is needed")
        if len(set(shard_ids)) != len(shard_ids):
            raise ValueError(f"Shard identifiers must be unique: {list(shard_ids)!r}")
        self.shard_ids = list(shard_ids)
        # One keyed BLAKE2b state per shard; copying a prepared state is cheaper than keying
        # a new one for every lookup.
        self._hashers = [
            hashlib.blake2b(key=hashlib.sha256(shard.encode("utf-8")).digest(), digest_size=8)
            for shard in self.shard_ids
        ]
        self._cache: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.shard_ids)

    def index(self, name: str) -> int:
        """Index of the shard that owns ``name``."""
        if len(self._hashers) == 1:
            return 0
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        data = name.encode("utf-8")
        best_index = 0
        best_score = -1
        for position, prepared in enumerate(self._hashers):
            hasher = prepared.copy()
            hasher.update(data)
            score = int.from_bytes(hasher.digest(), "big")
            if score > best_score:
                best_index, best_score = position, score
        if "?" not in name and len(self._cache) < _CACHE_LIMIT:
            self._cache[name] = best_index
        return best_index

    def owner(self, name: str) -> str:
        """Identifier of the shard that owns ``name``."""
        return self.shard_ids[self.index(name)]
