"""Which client address and scheme a request really has, behind trusted proxies (pure).

Theory of operation
-------------------
``X-Forwarded-For`` is a comma-separated list that every proxy *appends* to: the left-most
entries come from whoever opened the first connection, and any client can put anything there.
So the list is read from the right: entries added by proxies we trust are skipped, and the
first (right-most) entry that is *not* a trusted proxy is the client.  If every entry is
trusted, the left-most one is used.

Headers are believed only when the immediate peer (the TCP peer, or any UNIX-socket peer) is a
trusted proxy: a client that connects directly cannot spoof its address or scheme.

``X-Forwarded-Proto`` and ``X-Forwarded-Port`` are usually overwritten rather than appended by
proxies.  When they hold exactly one entry per ``X-Forwarded-For`` hop, the entry of the chosen
hop is used; otherwise the right-most one (written by the proxy closest to us).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from .config import Network

__all__ = ["ForwardedInfo", "is_trusted", "resolve_forwarded"]

_XFF = b"x-forwarded-for"
_XFP = b"x-forwarded-proto"
_XFPORT = b"x-forwarded-port"

_SECURE = {"https": True, "wss": True, "http": False, "ws": False}


@dataclass(frozen=True, slots=True)
class ForwardedInfo:
    """The client as seen through trusted proxies.

    Attributes:
        client: ``[host, port]`` for the ``client`` key, or None (UNIX socket, no proxy info).
        secure: whether the client's own connection used TLS.
        forwarded: True when proxy headers were applied.
    """

    client: list[object] | None
    secure: bool
    forwarded: bool = False


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # "[::1]" or "[::1]:8080"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "1.2.3.4:8080"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(host: str | None, trusted: Sequence[Network]) -> bool:
    """True if ``host`` (an IP address string; None for a UNIX-socket peer) is trusted.

    UNIX-socket peers are always trusted: only processes on this machine can connect, which is
    how a local reverse proxy talks to the server.
    """
    if host is None:
        return True
    address = _parse_ip(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


def _values(headers: Sequence[Sequence[bytes]], name: bytes) -> list[str]:
    values: list[str] = []
    for header_name, value in headers:
        if header_name == name:
            values.extend(
                part.strip() for part in value.decode("latin-1").split(",") if part.strip()
            )
    return values


def _pick(values: list[str], index: int, hop_count: int) -> str | None:
    if not values:
        return None
    if len(values) == hop_count:
        return values[index]
    return values[-1]


def resolve_forwarded(
    peer: list[object] | None,
    secure: bool,
    headers: Sequence[Sequence[bytes]],
    trusted: Sequence[Network],
    enabled: bool,
) -> ForwardedInfo:
    """Apply ``X-Forwarded-*`` headers when allowed; see the module docstring.

    Args:
        peer: ``[host, port]`` of the TCP peer, or None for a UNIX-socket peer.
        secure: whether the connection to us uses TLS.
        headers: lower-cased request headers.
        trusted: networks of trusted proxies.
        enabled: ``--proxy-headers``.
    """
    if not enabled:
        return ForwardedInfo(peer, secure)
    peer_host = str(peer[0]) if peer is not None else None
    if not is_trusted(peer_host, trusted):
        return ForwardedInfo(peer, secure)
    hops = _values(headers, _XFF)
    client = peer
    forwarded = False
    index = len(hops) - 1
    if hops:
        chosen: int | None = None
        for position in range(len(hops) - 1, -1, -1):
            if not is_trusted(hops[position], trusted):
                chosen = position
                break
        if chosen is None:
            chosen = 0
        address = _parse_ip(hops[chosen])
        if address is not None:
            index = chosen
            port = 0
            port_text = _pick(_values(headers, _XFPORT), index, len(hops))
            if port_text is not None and port_text.isdigit() and int(port_text) <= 65535:
                port = int(port_text)
            client = [str(address), port]
            forwarded = True
    proto = _pick(_values(headers, _XFP), max(index, 0), len(hops))
    if proto is not None and proto.lower() in _SECURE:
        secure = _SECURE[proto.lower()]
        forwarded = True
    return ForwardedInfo(client, secure, forwarded)
