"""The address a request comes from, behind a reverse proxy or not (login throttling per address).

A front door behind nginx or a load balancer sees the proxy as its peer; the client's address is in
``X-Forwarded-For``, which each proxy extends on the right with the address it received the request
from. Whatever is further left was written by the client and is worth nothing. So:

* when the peer is not one of ``TRUSTED_PROXIES`` (CIDRs, comma-separated; empty by default), the
  client is the peer, and an ``X-Forwarded-For`` it sent is ignored (a direct client forging one to
  dodge the per-address throttle gains nothing);
* when the peer is a trusted proxy, the client is the right-most hop of ``X-Forwarded-For`` that is
  not itself a trusted proxy; a hop that is no IP address, or a chain of trusted proxies only, leaves
  the peer (nothing better is known).

Pure: :func:`client_address` takes the peer, the header and the networks.
"""

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidTrustedProxies(ValueError):
    """``TRUSTED_PROXIES`` names something that is not an address or a CIDR."""


@lru_cache(maxsize=8)
def trusted_proxies(setting: str | None) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` (``10.0.0.0/8, 192.168.1.5``) as networks; empty trusts no proxy."""
    networks = []
    for item in filter(None, (part.strip() for part in str(setting or "").split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as error:
            raise InvalidTrustedProxies(
                f"TRUSTED_PROXIES: {item!r} is not an address or a CIDR"
            ) from error
    return tuple(networks)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, networks) -> str | None:
    """The client's address (see the module docstring)."""
    peer_address = _address(peer or "")
    if peer_address is None or not networks or not _trusted(peer_address, networks):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer
        if not _trusted(address, networks):
            return str(address)
    return peer


def request_client_address(request, setting: str | None) -> str | None:
    """:func:`client_address` of a werkzeug request (every ``X-Forwarded-For`` header joined, in
    order), with ``TRUSTED_PROXIES`` = ``setting``."""
    forwarded = ",".join(request.headers.getlist("X-Forwarded-For"))
    return client_address(request.remote_addr, forwarded, trusted_proxies(setting))
