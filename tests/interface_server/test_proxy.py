"""Tests for interface_server.proxy: forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

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


# -- properties -----------------------------------------------------------------------------------

_TRUSTED_NETS = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]
_ADDRESS = st.one_of(st.ip_addresses(v=4, network="10.0.0.0/8"), st.ip_addresses(v=4)).map(str)
_PROTO = st.sampled_from(["http", "https", "ws", "wss", "gopher", ""])


def _trusted(address: str) -> bool:
    return any(ipaddress.ip_address(address) in net for net in _TRUSTED_NETS)


@given(peer=_ADDRESS, hops=st.lists(_ADDRESS, max_size=5), proto=_PROTO, secure=st.booleans(),
       enabled=st.booleans())
def test_only_a_trusted_peer_can_change_the_client_or_scheme(
    peer: str, hops: list[str], proto: str, secure: bool, enabled: bool
) -> None:
    headers = h(("x-forwarded-for", ", ".join(hops)), ("x-forwarded-proto", proto))
    info = resolve_forwarded([peer, 5], secure, headers, TRUSTED, enabled=enabled)
    if not enabled or not _trusted(peer):
        assert info.client == [peer, 5] and info.secure is secure and not info.forwarded
        return
    untrusted = [hop for hop in hops if not _trusted(hop)]
    if hops:
        # The right-most address no trusted proxy vouches for; all trusted: the left-most.
        assert info.client == [untrusted[-1] if untrusted else hops[0], 0]
    else:
        assert info.client == [peer, 5]
    expected_secure = {"https": True, "wss": True, "http": False, "ws": False}.get(proto, secure)
    assert info.secure is expected_secure
