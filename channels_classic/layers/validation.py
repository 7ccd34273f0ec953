"""Pure ASGI 1.0 rules for channel names, group names and message contents.

Nothing here does I/O. Every channel layer calls these functions before it touches its
storage, so every backend rejects the same inputs with the same exceptions.

Names
    Channel names are ASCII ``[A-Za-z0-9._-]`` with at most one ``?`` (single-reader) or one
    ``!`` (process-local) separator.  ``receive`` is given process-local names as their prefix,
    ending at the ``!``; ``send`` always needs a full name.  Group names use the same alphabet
    without ``?`` or ``!``.  The spec asks layers to support "at least 100 bytes"; we accept up
    to :data:`MAX_NAME_LENGTH` so ordinary generated names never come near the limit.

Messages
    The top level is a ``dict``; values may be ``bytes``, ``str``, ``int`` (signed 64-bit),
    ``float``, ``bool``, ``None``, ``list``/``tuple`` and ``dict`` with ``str`` keys, nested to
    :data:`MAX_NESTING`.  :func:`copy_message` validates and copies in one pass and returns an
    estimate of the encoded size so in-process layers can enforce the size limit without
    serialising.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

#: Longest channel or group name accepted (the spec's floor is 100).
MAX_NAME_LENGTH = 255
#: Deepest nesting of lists/dicts accepted in a message; guards against stack exhaustion.
MAX_NESTING = 64

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

#: Names already found valid, for sending and for receiving (bounded: cleared when full).
_SEND_NAMES_OK: set[str] = set()
_RECEIVE_NAMES_OK: set[str] = set()
_CHECKED_NAMES_LIMIT = 4096
_CHANNEL_RE = re.compile(r"\A[A-Za-z0-9._-]+(?:[?!][A-Za-z0-9._-]*)?\Z", re.ASCII)
_GROUP_RE = re.compile(r"\A[A-Za-z0-9._-]+\Z", re.ASCII)
_TOKEN_ALPHABET = string.ascii_letters


def random_token(length: int = 12) -> str:
    """Return a cryptographically random ASCII-letter token usable inside channel names."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


def _check_name_type(name: object, what: str) -> str:
    if isinstance(name, bytes):
        raise TypeError(f"{what} names must be str, not bytes: {name!r}")
    if not isinstance(name, str):
        raise TypeError(f"{what} names must be str, not {type(name).__name__}: {name!r}")
    if not name:
        raise TypeError(f"{what} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise TypeError(
            f"{what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}: "
            f"{name[:40]!r}..."
        )
    return name


def validate_channel_name(name: object, receive: bool = False) -> str:
    """Check one channel name and return it.

    Args:
        name: the candidate name.
        receive: True when the name is passed to ``receive``; process-local names must then be
            given as their prefix ending at ``!``.  Otherwise (send, group membership) a
            process-local name must be complete.

    Raises:
        TypeError: naming the rule that was broken.
    """
    # Every send and receive checks its names; the same few (a worker's channels, a
    # connection's reply channel) come back all the time.
    checked = _RECEIVE_NAMES_OK if receive else _SEND_NAMES_OK
    if type(name) is str and name in checked:
        return name
    name = _check_name_type(name, "Channel")
    if not _CHANNEL_RE.match(name):
        raise TypeError(
            f"Invalid channel name {name!r}: use ASCII letters, digits, '-', '_' and '.', "
            "with at most one '?' or '!'"
        )
    if name.endswith("?"):
        raise TypeError(
            f"Invalid channel name {name!r}: a single-reader name must have characters after "
            "the '?' (use new_channel('prefix?') to generate one)"
        )
    if "!" in name:
        if receive and not name.endswith("!"):
            raise TypeError(
                f"Cannot receive on {name!r}: receive on the process-local prefix "
                f"{non_local_name(name)!r} and the full name is returned with each message"
            )
        if not receive and name.endswith("!"):
            raise TypeError(
                f"Cannot send to {name!r}: a process-local channel name needs a local part "
                "after the '!'"
            )
    if len(checked) >= _CHECKED_NAMES_LIMIT:
        checked.clear()
    checked.add(name)
    return name


def validate_receive_channels(channels: object) -> list[str]:
    """Check the channel list given to ``receive`` and return it as a new list."""
    if isinstance(channels, (str, bytes)):
        raise TypeError(
            f"receive() takes a list of channel names, not a single name: {channels!r}"
        )
    try:
        names = list(channels)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"receive() takes a list of channel names, not {type(channels).__name__}"
        ) from None
    if not names:
        raise ValueError("receive() needs at least one channel name")
    return [validate_channel_name(name, receive=True) for name in names]


def validate_group_name(name: object) -> str:
    """Check a group name and return it.

    Raises:
        TypeError: when the name is not a non-empty ASCII ``[A-Za-z0-9._-]`` string.
    """
    name = _check_name_type(name, "Group")
    if not _GROUP_RE.match(name):
        raise TypeError(
            f"Invalid group name {name!r}: use ASCII letters, digits, '-', '_' and '.' only"
        )
    return name


def non_local_name(name: str) -> str:
    """Return the part of ``name`` up to and including ``!``, or ``name`` if it has none."""
    index = name.find("!")
    return name if index < 0 else name[: index + 1]


def is_process_local(name: str) -> bool:
    """True for ``prefix!local`` names and ``prefix!`` receive prefixes."""
    return "!" in name


def is_single_reader(name: str) -> bool:
    """True for ``prefix?random`` names."""
    return "?" in name


def _path(parent: str, key: object) -> str:
    return f"{parent}[{key!r}]"


def copy_message(message: object) -> tuple[dict[str, Any], int]:
    """Validate a message and return ``(deep copy, approximate encoded size in bytes)``.

    Tuples become lists and ``bytearray`` becomes ``bytes`` in the copy, exactly as a
    serialising layer would deliver them.

    Raises:
        TypeError: the message or a value inside it has a type ASGI does not allow; the
            message names the offending key path, e.g. ``message['headers'][0][1]``.
        ValueError: an ``int`` outside the signed 64-bit range, or nesting deeper than
            :data:`MAX_NESTING`.
    """
    if not isinstance(message, dict):
        raise TypeError(f"Messages must be dicts, not {type(message).__name__}")
    size = [0]
    copied = _copy_dict(message, "message", 0, size)
    return copied, size[0]


def _copy_dict(value: dict[Any, Any], path: str, depth: int, size: list[int]) -> dict[str, Any]:
    if depth > MAX_NESTING:
        raise ValueError(f"{path} is nested more than {MAX_NESTING} levels deep")
    out: dict[str, Any] = {}
    size[0] += 1
    for key, item in value.items():
        if type(key) is not str:
            raise TypeError(
                f"{path} has a key of type {type(key).__name__} ({key!r}); keys must be str"
            )
        size[0] += len(key) + 1
        out[key] = _copy_value(item, path, key, depth, size)
    return out


def _copy_value(item: Any, parent: str, key: object, depth: int, size: list[int]) -> Any:
    kind = type(item)
    # The common scalar types first, by exact type, because this runs on every send.
    if kind is str:
        size[0] += len(item) + 1
        return item
    if kind is bytes:
        size[0] += len(item) + 1
        return item
    if item is None or kind is bool or kind is float:
        size[0] += 1
        return item
    if kind is int:
        if not _INT64_MIN <= item <= _INT64_MAX:
            raise ValueError(f"{_path(parent, key)} = {item} is outside the signed 64-bit range")
        size[0] += 1
        return item
    if kind is dict:
        return _copy_dict(item, _path(parent, key), depth + 1, size)
    if kind is list or kind is tuple:
        path = _path(parent, key)
        if depth + 1 > MAX_NESTING:
            raise ValueError(f"{path} is nested more than {MAX_NESTING} levels deep")
        size[0] += 1
        return [_copy_value(element, path, index, depth + 1, size)
                for index, element in enumerate(item)]
    if kind is bytearray or kind is memoryview:
        data = bytes(item)
        size[0] += len(data) + 1
        return data
    # Subclasses of the allowed types (str enums, OrderedDict, namedtuple...) are accepted
    # and normalised to the base type, as msgpack would deliver them.
    if isinstance(item, bool):
        return bool(item)
    if isinstance(item, int):
        return _copy_value(int(item), parent, key, depth, size)
    if isinstance(item, str):
        return _copy_value(str(item), parent, key, depth, size)
    if isinstance(item, bytes):
        return _copy_value(bytes(item), parent, key, depth, size)
    if isinstance(item, float):
        return _copy_value(float(item), parent, key, depth, size)
    if isinstance(item, dict):
        return _copy_dict(item, _path(parent, key), depth + 1, size)
    if isinstance(item, (list, tuple)):
        return _copy_value(list(item), parent, key, depth, size)
    raise TypeError(
        f"{_path(parent, key)} has type {kind.__name__}; ASGI messages may only contain "
        "bytes, str, int, float, bool, None, lists and dicts"
    )
