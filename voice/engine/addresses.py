"""Which network addresses a URL chosen by an organization may lead the server to.

A tenant's webhook URL or provider `base_url` is untrusted: it may only reach public addresses
(no loopback, private, link-local, multicast or cloud-metadata ones) unless the operator lists
the host. Names are checked where the connection is made, on every address they resolve to, so
a DNS answer cannot swap in a private address after a check made when the URL was saved (DNS
rebinding), and a redirect to a private address fails the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable


class BlockedAddressError(OSError):
    """The host is, or resolves to, an address a tenant's URL may not reach."""


def address_allowed(address: str, allowed_hosts: Iterable[str] = ()) -> bool:
    """Whether a tenant's URL may lead to this IP address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if str(ip) in allowed_hosts:
        return True
    return ip.is_global and not ip.is_multicast


def ip_literal(host: str) -> str | None:
    """The address a host names literally, in any form the system resolver accepts without
    DNS: dotted or IPv6, but also "2130706433", "0x7f000001" or "127.1" (all 127.0.0.1)."""
    try:
        return str(ipaddress.ip_address(host.split("%")[0]))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


async def allowed_addresses(host: str, port: int, allowed_hosts: Iterable[str] = ()) -> list[str]:
    """The addresses to connect to for `host`, every one of them allowed.

    Raises:
        BlockedAddressError: The host resolves to at least one forbidden address (one is
            enough: the connection could land on any of them).
        socket.gaierror: The name does not resolve.
    """
    allowed = frozenset(allowed_hosts)
    name = host.rstrip(".")
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if name in allowed:
        return addresses
    if not addresses or not all(address_allowed(address, allowed) for address in addresses):
        raise BlockedAddressError(f"{name} resolves to a non-public address")
    return addresses
