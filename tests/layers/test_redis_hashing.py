"""Rendezvous hashing of names onto shards (pure)."""

from __future__ import annotations

from collections import Counter

import pytest

from channels_classic.layers.redis.hashing import RendezvousRing

NAMES = [f"daphne.response.{index:05d}!" for index in range(6000)] + [
    f"chat-room-{index}" for index in range(3000)
]


def test_names_spread_evenly_over_shards() -> None:
    ring = RendezvousRing(["redis://a:1/0", "redis://b:1/0", "redis://c:1/0"])
    counts = Counter(ring.index(name) for name in NAMES)
    expected = len(NAMES) / 3
    for shard in range(3):
        assert abs(counts[shard] - expected) < expected * 0.1, counts


def test_adding_a_fourth_shard_moves_about_a_quarter_and_only_to_it() -> None:
    three = RendezvousRing(["redis://a:1/0", "redis://b:1/0", "redis://c:1/0"])
    four = RendezvousRing(["redis://a:1/0", "redis://b:1/0", "redis://c:1/0", "redis://d:1/0"])
    moved = [name for name in NAMES if three.owner(name) != four.owner(name)]
    assert 0.20 < len(moved) / len(NAMES) < 0.30
    assert {four.owner(name) for name in moved} == {"redis://d:1/0"}


def test_removing_a_shard_moves_only_its_names() -> None:
    three = RendezvousRing(["a", "b", "c"])
    two = RendezvousRing(["a", "c"])
    for name in NAMES[:2000]:
        if three.owner(name) != "b":
            assert two.owner(name) == three.owner(name)


def test_order_of_hosts_does_not_matter() -> None:
    forward = RendezvousRing(["a", "b", "c"])
    backward = RendezvousRing(["c", "b", "a"])
    assert all(forward.owner(name) == backward.owner(name) for name in NAMES[:2000])


def test_single_shard_and_cache() -> None:
    assert RendezvousRing(["only"]).index("anything") == 0
    ring = RendezvousRing(["a", "b"])
    assert ring.index("x?single") == ring.index("x?single")  # not cached, still stable
    assert ring.index("group") == ring.index("group")


@pytest.mark.parametrize("ids", [[], ["a", "a"]])
def test_bad_shard_lists(ids: list[str]) -> None:
    with pytest.raises(ValueError):
        RendezvousRing(ids)
