"""Tests for interface_server.protocols.masking: the small-frame unmasker against RFC 6455."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interface_server.protocols.masking import SMALL_FRAME, SmallFrameUnmasker, unmasker_for


def reference_unmask(mask: bytes, payload: bytes) -> bytes:
    """RFC 6455 section 5.3, byte by byte."""
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


@given(mask=st.binary(min_size=4, max_size=4),
       payload=st.binary(max_size=SMALL_FRAME),
       cuts=st.lists(st.integers(min_value=0, max_value=SMALL_FRAME), max_size=6))
def test_unmasking_in_any_pieces_matches_the_rfc(mask: bytes, payload: bytes,
                                                  cuts: list[int]) -> None:
    unmasker = SmallFrameUnmasker(mask)
    bounds = sorted({0, len(payload), *(cut for cut in cuts if cut < len(payload))})
    pieces = [unmasker.process(payload[start:end]) for start, end in itertools.pairwise(bounds)]
    assert b"".join(pieces) == reference_unmask(mask, payload)
    assert unmasker.pointer() == len(payload)


def test_leading_zero_bytes_survive() -> None:
    # Integer XOR must not drop the high (trailing, little-endian) zero bytes.
    mask = b"\x01\x02\x03\x04"
    payload = reference_unmask(mask, b"\x00" * 7)
    assert SmallFrameUnmasker(mask).process(payload) == b"\x00" * 7


def test_reset_starts_the_key_again() -> None:
    mask = b"\x10\x20\x30\x40"
    unmasker = SmallFrameUnmasker(mask)
    unmasker.process(b"abc")
    unmasker.reset()
    assert unmasker.pointer() == 0
    assert unmasker.process(reference_unmask(mask, b"hello")) == b"hello"


def test_a_mask_must_be_four_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes, not 3"):
        SmallFrameUnmasker(b"abc")


@pytest.mark.parametrize("length", [1, SMALL_FRAME, SMALL_FRAME + 1, 70_000])
def test_either_masker_unmasks_its_frame(length: int) -> None:
    mask = b"\xde\xad\xbe\xef"
    payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    unmasker = unmasker_for(mask, length)
    assert isinstance(unmasker, SmallFrameUnmasker) == (length <= SMALL_FRAME)
    half = length // 2
    masked = reference_unmask(mask, payload)
    assert unmasker.process(masked[:half]) + unmasker.process(masked[half:]) == payload
    assert unmasker.pointer() == length
