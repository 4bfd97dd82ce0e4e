"""Tenant webhook tools: the engine's `ToolExecutor` port, over signed HTTP requests.

The URL is the tenant's, so it is untrusted: a webhook may only reach public addresses unless
the operator lists the host in AURA_WEBHOOK_ALLOWED_HOSTS (the rule of voice.engine.net.addresses),
checked where the connection is made; redirects are not followed.

Each request carries `X-Aura-Timestamp` and `X-Aura-Signature: v1=<hex>`, the HMAC-SHA256 of
"<timestamp>.<body>" with the tool's signing secret (docs/api/function-calling.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from voice.engine.errors import InvalidRequestError, ToolError
from voice.engine.net.addresses import (
    BlockedAddressError,
    ResolutionTimeoutError,
    address_allowed,
    getaddrinfo,
    ip_literal,
)

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "AURA-Webhooks/1"
_NUMERIC_ADDRESS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_NUMERIC_NAME = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV


@dataclass(frozen=True, slots=True)
class WebhookDefinition:
    name: str
    url: str
    signing_secret: str = field(repr=False)
    timeout_s: float = 10.0


def check_webhook_url(
    url: str, allowed_hosts: Iterable[str] = (), *, allow_http: bool = False
) -> None:
    """Refuse URLs that are malformed or name a forbidden address literally (before any DNS).

    Plain http is refused unless `allow_http` (development) or the operator lists the host:
    the request carries a signature and the tool's arguments (or a tenant's provider key),
    which must not cross the internet readable and alterable.

    Raises:
        InvalidRequestError: with `param="url"`.
    """
    allowed = set(allowed_hosts)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError("a webhook URL must be http(s)://host/...", param="url")
    if parts.username or parts.password:
        raise InvalidRequestError("a webhook URL may not carry credentials", param="url")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError as error:
        raise InvalidRequestError("the webhook URL's port is invalid", param="url") from error
    host = parts.hostname.rstrip(".")  # "localhost." is localhost
    if host in allowed:
        return
    if parts.scheme == "http" and not allow_http:
        raise InvalidRequestError(
            "the URL must be https (plain http is accepted in development only)", param="url"
        )
    address = ip_literal(host)
    if address is None:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise InvalidRequestError("webhooks may only reach public addresses", param="url")
        return  # a name: checked again on every connection, after resolution
    if not address_allowed(address, allowed):
        raise InvalidRequestError("webhooks may only reach public addresses", param="url")


class GuardedResolver(AbstractResolver):
    """DNS resolution that refuses names resolving to any forbidden address.

    Lookups go through the bounded, time-limited DNS pool of voice.engine.net.addresses (aiohttp's
    own resolver would use the event loop's default executor, without a time limit).
    """

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self._allowed = frozenset(allowed_hosts)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=socket.AI_ADDRCONFIG
        )
        results = [_resolve_result(host, info) for info in infos]
        if host in self._allowed:
            return results
        blocked = [r["host"] for r in results if not address_allowed(r["host"], self._allowed)]
        if blocked:
            raise BlockedAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        pass


def _resolve_result(host: str, info: tuple[Any, ...]) -> ResolveResult:
    family, _, proto, _, address = info
    resolved, port = address[0], address[1]
    if family == socket.AF_INET6 and address[3]:
        # A scoped (link-local) address names its interface; numeric, so nothing is looked up.
        resolved, service = socket.getnameinfo(address, _NUMERIC_NAME)
        port = int(service)
    return ResolveResult(
        hostname=host, host=resolved, port=port, family=family, proto=proto, flags=_NUMERIC_ADDRESS
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class WebhookExecutor:
    """Runs a session's webhook tools; the registry around it adds timeouts and caps.

    Its HTTP client (and connection pool) is created at the first call and closed with the
    session, so a session that calls no webhook costs nothing.
    """

    def __init__(
        self,
        definitions: Iterable[WebhookDefinition],
        *,
        allowed_hosts: Iterable[str] = (),
        allow_http: bool = False,
    ) -> None:
        self._definitions = {definition.name: definition for definition in definitions}
        self._allowed = frozenset(allowed_hosts)
        self._allow_http = allow_http
        self._client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookExecutor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._client is None:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allowed), limit=20)
            self._client = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}
            )
        return self._client

    async def execute(self, name: str, arguments: Mapping[str, object], *, call_id: str) -> str:
        definition = self._definitions.get(name)
        if definition is None:
            raise ToolError(f"the tool {name!r} has no webhook in this session")
        try:
            # Again at each call: the URL may have been saved under other settings.
            check_webhook_url(definition.url, self._allowed, allow_http=self._allow_http)
        except InvalidRequestError as error:
            raise ToolError(error.message) from error
        body = json.dumps(
            {"tool": name, "call_id": call_id, "arguments": dict(arguments)},
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Aura-Timestamp": timestamp,
            "X-Aura-Signature": sign(definition.signing_secret, timestamp, body),
            "X-Aura-Call-Id": call_id,
        }
        try:
            async with self._http().post(
                definition.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=definition.timeout_s),
            ) as response:
                if 300 <= response.status < 400:
                    raise ToolError("the webhook answered with a redirect, which is not followed")
                if response.status >= 400:
                    raise ToolError(f"the webhook answered HTTP {response.status}")
                payload = await response.content.read(MAX_RESPONSE_BYTES + 1)
        except BlockedAddressError as error:
            raise ToolError("the webhook's host resolves to a non-public address") from error
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, BlockedAddressError):
                raise ToolError("the webhook's host resolves to a non-public address") from error
            if isinstance(error.os_error, ResolutionTimeoutError):
                raise ToolError(f"the webhook could not be reached: {error.os_error}") from error
            raise ToolError("the webhook could not be reached") from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ToolError(f"the webhook failed: {type(error).__name__}") from error
        if len(payload) > MAX_RESPONSE_BYTES:
            raise ToolError(f"the webhook's answer exceeds {MAX_RESPONSE_BYTES // 1024} KiB")
        return payload.decode("utf-8", errors="replace")
