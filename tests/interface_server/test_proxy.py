"""Tests for interface_server.proxy: forwarded headers believed only from trusted proxies."""

from __future__ import annotations

from interface_server.config import parse_networks
from interface_server.proxy import is_trusted, resolve_forwarded

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8"])


def h(*pairs: tuple[str, str]) -> list[list[bytes]]:
    return [[name.encode(), value.encode()] for name, value in pairs]


def test_disabled_ignores_headers() -> None:
    info = resolve_forwarded(["127.0.0.1", 5], False, h(("x-forwarded-for", "1.2.3.4")),
                             TRUSTED, enabled=False)
    assert info.client == ["127.0.0.1", 5] and not info.forwarded


def test_untrusted_peer_cannot_spoof() -> None:
    info = resolve_forwarded(["8.8.8.8", 5], False, h(("x-forwarded-for", "1.2.3.4"),
                                                      ("x-forwarded-proto", "https")),
                             TRUSTED, enabled=True)
    assert info.client == ["8.8.8.8", 5] and info.secure is False


def test_rightmost_untrusted_hop_is_the_client() -> None:
    # The client forged "6.6.6.6"; the trusted proxy appended the real address.
    headers = h(("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2"),
                ("x-forwarded-port", "443"), ("x-forwarded-proto", "https"))
    info = resolve_forwarded(["127.0.0.1", 5], False, headers, TRUSTED, enabled=True)
    assert info.client == ["1.2.3.4", 443] and info.secure is True and info.forwarded


def test_index_matched_proto_and_port() -> None:
    headers = h(("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-proto", "https, http"), ("x-forwarded-port", "1, 2"))
    info = resolve_forwarded(["10.1.1.1", 5], True, headers, TRUSTED, enabled=True)
    assert info.client == ["1.2.3.4", 2] and info.secure is False


def test_all_hops_trusted_uses_leftmost() -> None:
    info = resolve_forwarded(["127.0.0.1", 5], False, h(("x-forwarded-for", "10.0.0.1,10.0.0.2")),
                             TRUSTED, enabled=True)
    assert info.client == ["10.0.0.1", 0]


def test_garbage_hop_keeps_the_peer() -> None:
    info = resolve_forwarded(["127.0.0.1", 5], False, h(("x-forwarded-for", "nonsense")),
                             TRUSTED, enabled=True)
    assert info.client == ["127.0.0.1", 5]


def test_proto_alone_and_wss() -> None:
    info = resolve_forwarded(["127.0.0.1", 5], False, h(("x-forwarded-proto", "wss")), TRUSTED,
                             enabled=True)
    assert info.secure is True and info.client == ["127.0.0.1", 5]
    bogus = resolve_forwarded(["127.0.0.1", 5], True, h(("x-forwarded-proto", "gopher")),
                              TRUSTED, enabled=True)
    assert bogus.secure is True


def test_bad_port_is_ignored() -> None:
    info = resolve_forwarded(["127.0.0.1", 5], False, h(("x-forwarded-for", "1.2.3.4"),
                                                        ("x-forwarded-port", "99999")),
                             TRUSTED, enabled=True)
    assert info.client == ["1.2.3.4", 0]


def test_is_trusted() -> None:
    assert is_trusted(None, TRUSTED)  # UNIX socket peers
    assert is_trusted("::ffff:10.2.3.4", TRUSTED)
    assert is_trusted("[10.0.0.1]:80", TRUSTED)
    assert is_trusted("10.0.0.1:80", TRUSTED)
    assert not is_trusted("11.0.0.1", TRUSTED)
    assert not is_trusted("garbage", TRUSTED)
    assert is_trusted("2001:db8::1", parse_networks(["*"]))
