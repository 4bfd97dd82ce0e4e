"""An HTTP transport for the OpenAI SDK that connects to public addresses only.

Used for provider routes whose `base_url` an organization chose (voice.engine.net.addresses has
the rule and the reason). httpx checks nothing about where a name leads, and its transport
takes no resolver, but the connection pool under it takes a network backend: this one
resolves the name itself, refuses it if any address is forbidden, and connects to the vetted
address, so the name is not looked up a second time (in the bounded, time-limited DNS pool of
voice.engine.net.addresses, not the event loop's default executor). TLS still verifies (and SNI
still names) the URL's host, which the pool passes separately.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import httpcore2
import httpx2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream

from voice.engine.net.addresses import (
    BlockedAddressError,
    ResolutionTimeoutError,
    allowed_addresses,
)

_SocketOptions = Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
]


class PublicOnlyBackend(AsyncNetworkBackend):
    """Opens TCP connections only to addresses `address_allowed` accepts."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self._allowed = frozenset(allowed_hosts)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: _SocketOptions | None = None,
    ) -> AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await allowed_addresses(host, port, self._allowed)
        except TimeoutError as error:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from error
        except (BlockedAddressError, ResolutionTimeoutError, socket.gaierror) as error:
            # Unreachable rather than slow: the message says why (no answer, or forbidden).
            raise httpcore2.ConnectError(str(error)) from error
        failure: Exception | None = None
        for address in addresses:  # several for a dual-stack name: try each, as browsers do
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as error:
                failure = error
        assert failure is not None  # allowed_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: _SocketOptions | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore2.ConnectError("a tenant's URL may not reach a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx2.AsyncHTTPTransport):
    """httpx's own transport over a `PublicOnlyBackend`, ignoring proxy settings from the
    environment (a proxy would make the connection on our behalf, unchecked)."""

    def __init__(self, allowed_hosts: Iterable[str], *, limits: httpx2.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # The transport builds its pool without a way to pass a backend; replacing the pool
        # it built (unused until the first request) is the only hook httpx leaves.
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PublicOnlyBackend(allowed_hosts),
        )
