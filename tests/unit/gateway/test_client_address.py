"""Whose address a login is counted against, behind a proxy or not (services.gateway.client_address)."""

import pytest

from services.gateway.client_address import (
    InvalidTrustedProxies,
    client_address,
    trusted_proxies,
)

PROXIES = trusted_proxies("10.0.0.0/8, 192.168.1.5, fd00::/8")


@pytest.mark.parametrize(
    "peer, forwarded, client",
    [
        # a direct client: its own X-Forwarded-For is ignored, forged or not
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("203.0.113.9", "10.0.0.1, 198.51.100.1", "203.0.113.9"),
        # through a trusted proxy: the hop it appended
        ("10.1.2.3", "198.51.100.7", "198.51.100.7"),
        # the client's forged hops stand left of the one the proxy appended
        ("10.1.2.3", "1.2.3.4, 5.6.7.8, 198.51.100.7", "198.51.100.7"),
        # two trusted proxies: the right-most hop that is none of them
        ("192.168.1.5", "1.2.3.4, 198.51.100.7, 10.9.9.9", "198.51.100.7"),
        # a trusted proxy with nothing better to say: the peer
        ("10.1.2.3", None, "10.1.2.3"),
        ("10.1.2.3", "10.0.0.7, 10.0.0.8", "10.1.2.3"),
        ("10.1.2.3", "198.51.100.7, not-an-address", "10.1.2.3"),
        # IPv6, and an IPv4 peer written as mapped IPv6
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("::ffff:10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("2001:db8::9", "198.51.100.7", "2001:db8::9"),
    ],
)
def test_the_client_is_the_peer_unless_a_trusted_proxy_forwarded_the_request(
    peer, forwarded, client
):
    assert client_address(peer, forwarded, PROXIES) == client


def test_with_no_trusted_proxy_every_forwarded_header_is_ignored():
    assert trusted_proxies("") == ()
    assert trusted_proxies(None) == ()
    assert client_address("10.1.2.3", "198.51.100.7", ()) == "10.1.2.3"


def test_a_setting_that_names_no_network_is_refused_by_name():
    with pytest.raises(InvalidTrustedProxies, match="'proxy.example'"):
        trusted_proxies("10.0.0.0/8, proxy.example")
