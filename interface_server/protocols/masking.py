"""Unmasking client frames: a cheap path for the small frames most applications send.

RFC 6455 clients mask every frame's payload with a 4-byte key.  Autobahn unmasks with its
native (CFFI) masker, which costs a few microseconds of set-up per frame (allocating C
buffers, choosing an implementation) before it touches a byte — more than the work itself for
the tens-of-bytes messages of chat and echo traffic.  Below :data:`SMALL_FRAME` bytes this
module XORs the payload as one Python integer instead (about 1 µs for 32 bytes); larger
frames keep autobahn's masker, whose SIMD loop wins from about 1.5 KB on.
"""

from __future__ import annotations

from typing import Protocol

from autobahn.websocket.xormasker import create_xor_masker

__all__ = ["SMALL_FRAME", "SmallFrameUnmasker", "Unmasker", "unmasker_for"]

#: Largest payload (bytes) unmasked by :class:`SmallFrameUnmasker`; measured cross-over with
#: autobahn's native masker is between 1 and 2 KB (``benchmarks/masking_bench.py``).
SMALL_FRAME = 1024


class Unmasker(Protocol):
    """What autobahn's frame parser needs from a masker."""

    def pointer(self) -> int:
        """Payload bytes processed so far in this frame."""

    def reset(self) -> None:
        """Start again at the first payload byte."""

    def process(self, data: bytes) -> bytes:
        """Unmask the next ``len(data)`` payload bytes."""


class SmallFrameUnmasker:
    """XOR-unmask one frame's payload, which may arrive in several pieces."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        if len(mask) != 4:
            raise ValueError(f"a WebSocket masking key is 4 bytes, not {len(mask)}")
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        """Payload bytes processed so far in this frame."""
        return self._ptr

    def reset(self) -> None:
        """Start again at the first payload byte."""
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        """Unmask the next ``len(data)`` payload bytes (continuing the key where it stopped)."""
        size = len(data)
        shift = self._ptr & 3
        mask = self._mask[shift:] + self._mask[:shift] if shift else self._mask
        self._ptr += size
        key = (mask * (size // 4 + 1))[:size]
        return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            size, "little"
        )


def unmasker_for(mask: bytes, length: int) -> Unmasker:
    """The cheaper masker for a frame of ``length`` payload bytes masked with ``mask``."""
    if length <= SMALL_FRAME:
        return SmallFrameUnmasker(mask)
    masker: Unmasker = create_xor_masker(mask, length)
    return masker
