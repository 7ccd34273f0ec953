"""Unmasking client WebSocket frames: autobahn's native masker against the small-frame one.

Prints a Markdown table of microseconds per frame (creating the masker and unmasking one
payload, as the frame parser does) for a range of payload sizes::

    python benchmarks/masking_bench.py
    python benchmarks/masking_bench.py --quick

The interface server uses the small-frame unmasker up to ``SMALL_FRAME`` bytes; this is the
measurement that threshold comes from.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autobahn.websocket.xormasker import create_xor_masker

from interface_server.protocols.masking import SMALL_FRAME, SmallFrameUnmasker

SIZES = (32, 125, 512, 1024, 2048, 16_384, 65_536, 1_048_576)


def per_frame_us(make: Callable[[bytes, int], Any], mask: bytes, payload: bytes,
                 budget_bytes: int) -> float:
    """Mean microseconds to build a masker and unmask ``payload`` with it."""
    size = len(payload)
    number = max(20, budget_bytes // max(size, 64))
    seconds = timeit.timeit(lambda: make(mask, size).process(payload), number=number)
    return seconds / number * 1e6


def main() -> None:
    """Measure both maskers at every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    budget = 2_000_000 if args.quick else 20_000_000
    mask = os.urandom(4)
    print(f"Unmasking one frame, µs (small-frame unmasker used up to {SMALL_FRAME} bytes)\n")
    print("| payload bytes | autobahn | small-frame | small-frame / autobahn |")
    print("|---:|---:|---:|---:|")
    for size in SIZES:
        payload = os.urandom(size)
        if SmallFrameUnmasker(mask).process(payload) != create_xor_masker(mask, size).process(
                payload):
            raise SystemExit(f"the two maskers disagree at {size} bytes")
        theirs = per_frame_us(create_xor_masker, mask, payload, budget)
        ours = per_frame_us(lambda m, _size: SmallFrameUnmasker(m), mask, payload, budget)
        print(f"| {size:,} | {theirs:.2f} | {ours:.2f} | {ours / theirs:.2f}x |")


if __name__ == "__main__":
    main()
