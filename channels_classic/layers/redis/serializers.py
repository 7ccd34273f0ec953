"""Message bytes for the Redis layers: body encoding, encryption and the list-entry envelope.

Nothing here does I/O, so the wire format can be tested on its own and shared by the sync and
asyncio halves of the layer.

Body
    The message dict is validated and copied with :func:`~..validation.copy_message` (the same
    rules and exceptions as the in-memory layer), then packed with msgpack using the bin type,
    so ``bytes`` and ``str`` stay distinct.  With ``symmetric_encryption_keys`` the packed body
    is then sealed with Fernet; the first key encrypts and every key decrypts, which is how keys
    are rotated.

Envelope
    Each Redis list entry is one ASCII header followed by the body::

        <deadline in ms>|<attempts>|<full channel name>|<body>

    The deadline comes first so the Lua scripts can read it with ``string.match`` without
    unpacking anything.  Channel names cannot contain ``|``, so the header parses unambiguously.
    The full name is what a ``prefix!`` receive returns; it never travels inside the user's
    dict.  The header is not encrypted: it carries routing data only.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack

from ..validation import copy_message

__all__ = [
    "Envelope",
    "MessageCodec",
    "UndecodableMessage",
    "pack_envelope",
    "unpack_envelope",
]

_SEPARATOR = b"|"


class UndecodableMessage(ValueError):
    """A list entry that cannot be turned back into a message (corrupt, or an unknown key)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One decoded list entry; ``body`` is still packed (and maybe encrypted)."""

    deadline_ms: int
    attempts: int
    channel: str
    body: bytes


def pack_envelope(deadline_ms: int, attempts: int, channel: str, body: bytes) -> bytes:
    """Build the list entry for ``body`` addressed to ``channel``."""
    return b"%d|%d|%s|%s" % (deadline_ms, attempts, channel.encode("ascii"), body)


def envelope_head(deadline_ms: int, attempts: int) -> bytes:
    """The part of the header before the channel name (group sends add names server-side)."""
    return b"%d|%d|" % (deadline_ms, attempts)


def unpack_envelope(entry: bytes) -> Envelope:
    """Split a list entry into its header fields and body.

    Raises:
        UndecodableMessage: the entry does not have the envelope's shape.
    """
    try:
        first = entry.index(_SEPARATOR)
        second = entry.index(_SEPARATOR, first + 1)
        third = entry.index(_SEPARATOR, second + 1)
        return Envelope(
            deadline_ms=int(entry[:first]),
            attempts=int(entry[first + 1 : second]),
            channel=entry[second + 1 : third].decode("ascii"),
            body=entry[third + 1 :],
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableMessage(f"malformed list entry ({len(entry)} bytes): {exc}") from None


def _fernet_key(key: str | bytes) -> bytes:
    # asgi_redis derived Fernet keys this way; keeping it lets a deployment keep its secrets.
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def _make_fernet(keys: object) -> Any:
    if isinstance(keys, (str, bytes)):
        raise ValueError(
            "symmetric_encryption_keys must be a list of keys, not a single string; "
            "write symmetric_encryption_keys=[key]"
        )
    if not isinstance(keys, Sequence):
        raise ValueError(
            f"symmetric_encryption_keys must be a list of keys, not {type(keys).__name__}"
        )
    if not keys:
        raise ValueError(
            "symmetric_encryption_keys is empty; give at least one key, or None to send "
            "messages unencrypted"
        )
    for key in keys:
        if not isinstance(key, (str, bytes)) or not key:
            raise ValueError(f"Each encryption key must be a non-empty str or bytes, not {key!r}")
    try:
        from cryptography.fernet import Fernet, MultiFernet
    except ImportError as exc:
        raise ImportError(
            "symmetric_encryption_keys needs the 'cryptography' package; install it with "
            "pip install 'channels-classic[crypto]'"
        ) from exc
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


class MessageCodec:
    """Turns message dicts into body bytes and back; see the module docstring.

    Args:
        symmetric_encryption_keys: None for plain msgpack bodies, or a list of secrets.  The
            first encrypts; all of them are tried when decrypting.
    """

    def __init__(self, symmetric_encryption_keys: Sequence[str | bytes] | None = None) -> None:
        self._fernet = (
            None if symmetric_encryption_keys is None else _make_fernet(symmetric_encryption_keys)
        )

    @property
    def encrypted(self) -> bool:
        """True when bodies are sealed with Fernet."""
        return self._fernet is not None

    @staticmethod
    def serialize(message: object) -> bytes:
        """Validate ``message`` and pack it.

        Raises:
            TypeError / ValueError: as :func:`~..validation.copy_message`, naming the bad key.
        """
        copied, _ = copy_message(message)
        return msgpack.packb(copied, use_bin_type=True)

    def seal(self, packed: bytes) -> bytes:
        """Encrypt a packed body when encryption is configured."""
        if self._fernet is None:
            return packed
        sealed: bytes = self._fernet.encrypt(packed)
        return sealed

    def decode(self, body: bytes) -> dict[str, Any]:
        """Turn a body back into the message dict.

        Raises:
            UndecodableMessage: wrong key, tampered token or corrupt msgpack.
        """
        if self._fernet is not None:
            from cryptography.fernet import InvalidToken

            try:
                body = self._fernet.decrypt(body)
            except InvalidToken:
                raise UndecodableMessage(
                    "cannot decrypt the message body with any configured key"
                ) from None
        try:
            message = msgpack.unpackb(body, raw=False)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise UndecodableMessage(
                f"corrupt message body ({type(exc).__name__}: {exc})"
            ) from None
        if not isinstance(message, dict):
            raise UndecodableMessage(f"message body is a {type(message).__name__}, not a dict")
        return message
