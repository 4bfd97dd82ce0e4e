"""What the OpenAI-protocol providers share: pooled SDK clients and error mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass, field

import httpx2
import openai

from voice.engine.errors import ProviderError
from voice.engine.net.public_http import PublicOnlyTransport

logger = logging.getLogger(__name__)

# Errors that are the request's fault, not the provider's: another try of the same request
# cannot help, and they say nothing about the provider's health.
REQUEST_FAULT_STATUSES = frozenset({400, 413, 422})

# The SDK's own limits keep only 100 idle connections, fewer than the streams a busy process
# holds open at once (every speaking session streams TTS): connections beyond it would be
# closed after each request and opened again for the next.
POOL_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=500)

_ClientKey = tuple[str | None, str, float, tuple[str, ...] | None]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_ClientKey, openai.AsyncOpenAI]]
_clients = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class OpenAIEndpoint:
    """Where and how one route calls an OpenAI-protocol server (the three providers share it).

    Attributes:
        provider: Label used in errors and metrics.
        model: The model the server is asked for.
        api_key: Bearer token (never in a repr).
        base_url: Server root ending in /v1; None means the SDK default.
        public_only: None for the operator's own endpoints; for a base_url an organization
            chose, the hosts besides public addresses it may reach.
        timeout_s: Request timeout.
    """

    provider: str
    model: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    public_only: tuple[str, ...] | None = None
    timeout_s: float = 30.0

    def client(self) -> openai.AsyncOpenAI:
        """The pooled SDK client of this endpoint (see `shared_client`)."""
        return shared_client(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout_s=self.timeout_s,
            public_only=self.public_only,
        )


def shared_client(
    *,
    base_url: str | None,
    api_key: str,
    timeout_s: float,
    public_only: tuple[str, ...] | None = None,
) -> openai.AsyncOpenAI:
    """One client per endpoint, key, timeout and address rule in this event loop.

    Sessions share clients so that 200 sessions reuse one connection pool instead of opening
    200; the pool is bound to the loop it was first used in, hence one cache per loop.
    `max_retries=0`: retrying is the router's decision (it may prefer another route).
    `public_only`, when set, limits connections to public addresses plus these hosts (for a
    base_url an organization chose; see voice.engine.net.public_http).
    """
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (base_url, api_key, timeout_s, public_only)
    client = per_loop.get(key)
    if client is None:
        http_client = (
            openai.DefaultAsyncHttpxClient(limits=POOL_LIMITS)
            if public_only is None
            # trust_env=False: proxies from the environment would be mounted ahead of the
            # transport and connect unchecked.
            else openai.DefaultAsyncHttpxClient(
                transport=PublicOnlyTransport(public_only, limits=POOL_LIMITS), trust_env=False
            )
        )
        client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_s,
            max_retries=0,
            http_client=http_client,
        )
        per_loop[key] = client
    return client


# Stable codes for statuses that mean something to the organization running the agent.
_STATUS_CODES = {401: "provider_auth_failed", 403: "provider_auth_failed", 429: "rate_limited"}


def provider_error(error: Exception, *, provider: str) -> ProviderError:
    """Translate an SDK or decoding failure into the engine's `ProviderError`."""
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retryable = status in (408, 409, 429) or status >= 500
        return ProviderError(
            f"{provider} answered HTTP {status}: {error.message}",
            provider=provider,
            retryable=retryable,
            status_code=status,
            code=_STATUS_CODES.get(status),
        )
    if isinstance(error, openai.APITimeoutError):
        return ProviderError(
            f"{provider} timed out", provider=provider, retryable=True, code="provider_timeout"
        )
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        return ProviderError(
            f"cannot reach {provider}: {cause}",
            provider=provider,
            retryable=True,
            code="provider_unreachable",
        )
    if isinstance(error, httpx2.TimeoutException):
        # Raw transport errors reach us from streamed binary bodies, which the SDK leaves as is.
        return ProviderError(
            f"{provider} timed out", provider=provider, retryable=True, code="provider_timeout"
        )
    if isinstance(error, httpx2.RequestError):
        return ProviderError(
            f"connection to {provider} broke: {type(error).__name__}: {error}",
            provider=provider,
            retryable=True,
            code="provider_unreachable",
        )
    if isinstance(error, json.JSONDecodeError):
        return ProviderError(
            f"{provider} sent an event that is not JSON: {error}",
            provider=provider,
            retryable=True,
            code="invalid_provider_response",
        )
    if isinstance(error, openai.APIError):
        return ProviderError(
            f"{provider} reported an error: {error.message}", provider=provider, retryable=True
        )
    logger.warning("unexpected %s from %s", type(error).__name__, provider, exc_info=error)
    return ProviderError(
        f"{provider} failed unexpectedly: {type(error).__name__}: {error}",
        provider=provider,
        retryable=True,
    )


# Exceptions the SDK raises for failed requests and malformed streams; anything else is a bug.
SDK_ERRORS: tuple[type[Exception], ...] = (
    openai.OpenAIError,
    httpx2.RequestError,
    json.JSONDecodeError,
)
