"""Which network addresses a URL chosen by an organization may lead the server to.

A tenant's webhook URL or provider `base_url` is untrusted: it may only reach public addresses
(no loopback, private, link-local, multicast or cloud-metadata ones) unless the operator lists
the host. Names are checked where the connection is made, on every address they resolve to, so
a DNS answer cannot swap in a private address after a check made when the URL was saved (DNS
rebinding), and a redirect to a private address fails the same way.

IPv6 can carry an IPv4 address inside it, and some of those forms reach that IPv4 address: an
IPv4-mapped address (::ffff:a.b.c.d) is it on a dual-stack socket, a NAT64 gateway
(64:ff9b::a.b.c.d) and a 6to4 relay (2002:aabb:ccdd::) forward to it. For these the embedded
IPv4 address is what is judged. Forms that cannot be a public destination (IPv4-compatible
::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, the local-use NAT64 prefix, Teredo, site-local,
documentation) are refused outright, whatever the running Python's `is_global` says of them
(it changed between patch releases).

Resolving a name blocks a thread for as long as the DNS server takes, which is unbounded. The
lookups run in a pool of their own, bounded in size and in time (`configure_resolution`), so a
webhook host whose DNS never answers fails that call, and cannot starve the threads that
database queries or anything else use.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

DEFAULT_RESOLUTION_WORKERS = 4
DEFAULT_RESOLUTION_TIMEOUT_S = 5.0

_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NEVER_PUBLIC_IPV6 = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated), with :: and ::1
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64: the operator's own network
    ipaddress.IPv6Network("2001::/32"),  # Teredo
    ipaddress.IPv6Network("fec0::/10"),  # site-local (deprecated, still routed inside sites)
    ipaddress.IPv6Network("3fff::/20"),  # documentation
)


class BlockedAddressError(OSError):
    """The host is, or resolves to, an address a tenant's URL may not reach."""


class ResolutionTimeoutError(OSError):
    """The host's name did not resolve in time (its DNS server does not answer)."""


def address_allowed(address: str, allowed_hosts: Iterable[str] = ()) -> bool:
    """Whether a tenant's URL may lead to this IP address."""
    allowed = frozenset(allowed_hosts)
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip) in allowed or _ipv4_public(ip)
    if ip.ipv4_mapped is not None:  # the same socket destination as the IPv4 address
        return str(ip) in allowed or str(ip.ipv4_mapped) in allowed or _ipv4_public(ip.ipv4_mapped)
    if str(ip) in allowed:
        return True
    if any(ip in network for network in _NEVER_PUBLIC_IPV6):
        return False
    embedded = _forwarded_ipv4(ip)
    if embedded is not None:
        return _ipv4_public(embedded)
    return ip.is_global and not ip.is_multicast


def _ipv4_public(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _forwarded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 gateway or a 6to4 relay forwards this address to."""
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


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


class _Resolution:
    """The process's DNS pool and time limit (module state: one per process, like the pool
    CPU-bound work runs in)."""

    def __init__(self) -> None:
        self.workers = DEFAULT_RESOLUTION_WORKERS
        self.timeout_s = DEFAULT_RESOLUTION_TIMEOUT_S
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="aura-dns"
                )
            return self._executor

    def configure(self, *, workers: int, timeout_s: float) -> None:
        if workers < 1 or timeout_s <= 0:
            raise ValueError("name resolution needs at least one worker and a positive timeout")
        with self._lock:
            previous, self._executor = self._executor, None
            self.workers, self.timeout_s = workers, timeout_s
        if previous is not None:
            # Lookups in flight finish (or time out) on their own; no new ones go there.
            previous.shutdown(wait=False)


_resolution = _Resolution()

# The system resolver, named here so that the one place lookups go through can be seen (and
# made to hang in a test, as an unanswering DNS server does).
_system_getaddrinfo = socket.getaddrinfo

AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


def configure_resolution(
    *, workers: int = DEFAULT_RESOLUTION_WORKERS, timeout_s: float = DEFAULT_RESOLUTION_TIMEOUT_S
) -> None:
    """Size the DNS pool and bound each lookup (the server does this at start-up)."""
    _resolution.configure(workers=workers, timeout_s=timeout_s)


async def getaddrinfo(host: str, port: int, **hints: Any) -> Sequence[AddressInfo]:
    """`socket.getaddrinfo` in the DNS pool, failing after the configured time.

    Raises:
        ResolutionTimeoutError: No answer in time (waiting for a free worker included).
        socket.gaierror: The name does not resolve.
    """
    loop = asyncio.get_running_loop()
    timeout_s = _resolution.timeout_s
    lookup = loop.run_in_executor(
        _resolution.executor(), lambda: _system_getaddrinfo(host, port, **hints)
    )
    try:
        async with asyncio.timeout(timeout_s):
            return await lookup
    except TimeoutError as error:
        # The thread stays blocked until the system resolver gives up; the caller does not.
        raise ResolutionTimeoutError(
            f"the name {host} did not resolve within {timeout_s:g} s (its DNS does not answer)"
        ) from error


async def allowed_addresses(host: str, port: int, allowed_hosts: Iterable[str] = ()) -> list[str]:
    """The addresses to connect to for `host`, every one of them allowed.

    Raises:
        BlockedAddressError: The host resolves to at least one forbidden address (one is
            enough: the connection could land on any of them).
        ResolutionTimeoutError: The name did not resolve in time.
        socket.gaierror: The name does not resolve.
    """
    allowed = frozenset(allowed_hosts)
    name = host.rstrip(".")
    infos = await getaddrinfo(name, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if name in allowed:
        return addresses
    if not addresses or not all(address_allowed(address, allowed) for address in addresses):
        raise BlockedAddressError(f"{name} resolves to a non-public address")
    return addresses
