"""Wire format of the Redis layers: envelopes, msgpack bodies, Fernet encryption (pure)."""

from __future__ import annotations

import builtins
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels_classic.layers.redis.serializers import (
    Envelope,
    MessageCodec,
    UndecodableMessage,
    envelope_head,
    pack_envelope,
    unpack_envelope,
)


def test_envelope_round_trip() -> None:
    entry = pack_envelope(1_763_800_000_123, 2, "daphne.response.ab!cd", b"\x00|body|\xff")
    assert entry.startswith(b"1763800000123|2|daphne.response.ab!cd|")
    assert unpack_envelope(entry) == Envelope(1_763_800_000_123, 2, "daphne.response.ab!cd",
                                              b"\x00|body|\xff")


def test_envelope_head_is_the_start_of_an_envelope() -> None:
    head = envelope_head(5, 0)
    assert pack_envelope(5, 0, "x", b"y") == head + b"x|y"


@given(
    deadline=st.integers(min_value=0, max_value=2**53),
    attempts=st.integers(min_value=0, max_value=1000),
    channel=st.from_regex(r"\A[A-Za-z0-9._-]{1,50}([?!][A-Za-z0-9._-]{1,20})?\Z"),
    body=st.binary(max_size=200),
)
def test_envelope_round_trips_any_name_and_body(
    deadline: int, attempts: int, channel: str, body: bytes
) -> None:
    assert unpack_envelope(pack_envelope(deadline, attempts, channel, body)) == Envelope(
        deadline, attempts, channel, body
    )


@pytest.mark.parametrize("entry", [b"", b"123", b"123|4", b"abc|0|x|y", b"1|z|x|y",
                                   b"1|0|\xff|y"])
def test_malformed_envelopes_are_undecodable(entry: bytes) -> None:
    with pytest.raises(UndecodableMessage, match="malformed"):
        unpack_envelope(entry)


def test_codec_keeps_bytes_and_str_apart() -> None:
    codec = MessageCodec()
    body = codec.seal(codec.serialize({"b": b"x", "s": "x", "l": (1, [b"\x00"])}))
    assert msgpack.unpackb(body, raw=False) == {"b": b"x", "s": "x", "l": [1, [b"\x00"]]}
    assert codec.decode(body) == {"b": b"x", "s": "x", "l": [1, [b"\x00"]]}


def test_codec_validates_with_the_layer_rules() -> None:
    with pytest.raises(TypeError, match=r"message\['s'\] has type set"):
        MessageCodec.serialize({"s": {1}})
    with pytest.raises(ValueError, match="signed 64-bit"):
        MessageCodec.serialize({"n": 2**64})


@pytest.mark.parametrize("body", [b"\xc1", msgpack.packb([1, 2]), msgpack.packb({1: 2}),
                                  b"\x92\x01"])
def test_corrupt_bodies_are_undecodable(body: bytes) -> None:
    with pytest.raises(UndecodableMessage):
        MessageCodec().decode(body)


def test_encryption_hides_the_body_and_round_trips() -> None:
    codec = MessageCodec(["secret-one"])
    assert codec.encrypted
    sealed = codec.seal(codec.serialize({"text": "top secret"}))
    assert b"top secret" not in sealed
    assert codec.decode(sealed) == {"text": "top secret"}


def test_key_rotation_first_key_encrypts_all_decrypt() -> None:
    old = MessageCodec(["old"])
    rotated = MessageCodec(["new", b"old"])
    assert rotated.decode(old.seal(old.serialize({"n": 1}))) == {"n": 1}
    from_rotated = rotated.seal(rotated.serialize({"n": 2}))
    assert MessageCodec(["new"]).decode(from_rotated) == {"n": 2}
    with pytest.raises(UndecodableMessage, match="any configured key"):
        old.decode(from_rotated)


def test_unencrypted_layer_cannot_read_encrypted_bodies() -> None:
    sealed = MessageCodec(["k"]).seal(MessageCodec.serialize({"n": 1}))
    with pytest.raises(UndecodableMessage):
        MessageCodec().decode(sealed)


@pytest.mark.parametrize(
    ("keys", "message"),
    [("one-key", "not a single string"), (b"one-key", "not a single string"),
     ([], "is empty"), ([""], "non-empty"), ([None], "non-empty"), (42, "not int")],
)
def test_bad_keys(keys: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MessageCodec(keys)


def test_missing_cryptography_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError("No module named 'cryptography'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"channels-classic\[crypto\]"):
        MessageCodec(["key"])
