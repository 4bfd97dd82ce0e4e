"""The address of the client behind a request or a WebSocket, for per-address limits.

The peer of the TCP connection is the client, unless it is one of `AURA_TRUSTED_PROXIES`: then
`X-Forwarded-For` is read from the right (each proxy appends the address it saw), skipping
trusted proxies, and the first address that is not one is the client. Whatever a client writes
into the header itself sits to the left of that and is never believed. daphne runs without
`--proxy-headers` for this reason: with it, the peer would already be the header's leftmost,
client-chosen, address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in configured if entry)


def _trusted(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in _networks(tuple(settings.AURA_TRUSTED_PROXIES)))


def _normalized(address: str) -> str:
    """One spelling per address (IPv6 compressed, IPv4-mapped IPv6 as IPv4)."""
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The client's address: the peer, or the nearest untrusted hop it forwarded for."""
    address = _normalized(peer or "")
    if not forwarded_for or not _trusted(address):
        return address
    for hop in reversed(forwarded_for.split(",")):
        address = _normalized(hop)
        if address == UNKNOWN or not _trusted(address):
            return address
    return address  # every hop a proxy of ours: the leftmost one is the best we know


def scope_client_address(scope: Mapping[str, Any]) -> str:
    """`client_address` of an ASGI scope (daphne's `client` and the request headers)."""
    client = scope.get("client") or (None, None)
    forwarded = [
        bytes(value).decode("latin-1")
        for key, value in scope.get("headers", ())
        if key.lower() == b"x-forwarded-for"
    ]
    return client_address(str(client[0]) if client[0] else None, ",".join(forwarded) or None)


def request_client_address(request: Any) -> str:
    """`client_address` of a Django request."""
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))
