"""What the three routers share: route labels and credential fingerprints, the failure
vocabulary, each call's own record (`RouteCall`, `RoutedStream`), and the base that walks
routes with breakers, a provider cache, decisions and failover."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from voice.engine.config import RouteConfig
from voice.engine.errors import (
    AllRoutesFailedError,
    AuraError,
    ProviderError,
    ProviderUnavailableError,
)
from voice.engine.llm.base import LanguageModel
from voice.engine.net.openai_client import REQUEST_FAULT_STATUSES
from voice.engine.observability.usage import UsageMeter
from voice.engine.ports import Clock, MonotonicClock
from voice.engine.routing.breaker import BreakerRegistry, CircuitBreaker, process_breakers
from voice.engine.stt.base import SpeechToText
from voice.engine.tts.base import TextToSpeech

logger = logging.getLogger(__name__)

Stage = Literal["llm", "stt", "tts"]
Action = Literal["selected", "skipped", "failed", "hedged", "won", "cancelled", "breaker_open"]
ProviderT = TypeVar("ProviderT", LanguageModel, SpeechToText, TextToSpeech)
ChunkT = TypeVar("ChunkT")
AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """One thing the router did with one route, `elapsed_ms` after the call started."""

    stage: Stage
    route: str
    action: Action
    reason: str = ""
    elapsed_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class RouteFailure:
    route: str
    # The full story, for the server's logs (a provider's own words included).
    reason: str
    # A stable code (`rate_limited`, `missing_api_key`, `circuit_open`...), safe to show anyone.
    code: str = "provider_error"


class RoutesExhaustedError(AllRoutesFailedError):
    """Every route failed or was skipped; `failures` says why, route by route."""

    def __init__(self, stage: Stage, failures: tuple[RouteFailure, ...]) -> None:
        if failures:
            details = "; ".join(f"{failure.route}: {failure.reason}" for failure in failures)
            message = f"every {stage} route failed ({details})"
        else:
            message = f"no {stage} route is configured"
        super().__init__(message)
        self.stage = stage
        self.failures = failures


def route_label(route: RouteConfig) -> str:
    return f"{route.provider}/{route.model}"


# Salts credential fingerprints, so that one seen in a log cannot be tested against a guess.
_FINGERPRINT_SALT = secrets.token_bytes(16)


def credential_fingerprint(route: RouteConfig) -> str:
    """A short, non-reversible name for what a route is called with: provider, model, endpoint
    and key (or which fallback key). The key itself is never kept in maps or written to logs."""
    key = route.api_key or f"fallback:{route.key_fallback}"
    material = "\0".join((route.provider, route.model, route.base_url or "", key))
    return hmac.new(_FINGERPRINT_SALT, material.encode(), hashlib.sha256).hexdigest()[:16]


def breaker_key(stage: Stage, route: RouteConfig) -> str:
    """One circuit per credential: an organization whose key is refused or whose own rate
    limit is reached opens its circuit, not the one of every organization on that model."""
    return f"{stage}:{route_label(route)}#{credential_fingerprint(route)}"


# The caller's configuration, not the provider's health: the organization's key is wrong or
# lacks access. Fails over for the call without counting against the route's circuit.
AUTHENTICATION_STATUSES = frozenset({401, 403})


def counts_against_route(error: ProviderError) -> bool:
    """Whether a failure says something about the route's health (not just this request)."""
    return error.status_code not in REQUEST_FAULT_STATUSES | AUTHENTICATION_STATUSES


def public_reason(error: ProviderError) -> str:
    """Why a route failed, in words a client may see: a code and the HTTP status, never the
    provider's own text (it may quote keys, internal host names or a tenant's server)."""
    status = f" (HTTP {error.status_code})" if error.status_code is not None else ""
    return f"{error.code}{status}"


DecisionCallback = Callable[[RouteDecision], None]


@dataclass(eq=False, slots=True)
class RouteCall:
    """One call through a router: when it started, why routes failed, which one answered.

    Each call has its own, so that two calls on one router at once (a speculative guess beside
    the final transcription, a speculative answer beside a confirmed one) never see each
    other's route.
    """

    started_at: float = 0.0
    failures: list[RouteFailure] = field(default_factory=list)
    answered_route: RouteConfig | None = None

    @property
    def answered_label(self) -> str | None:
        """ "provider/model" of the route that answered, once one has."""
        return route_label(self.answered_route) if self.answered_route else None


class RoutedStream(AsyncIterator[ChunkT]):
    """A router's streamed answer, which knows the route that answered once one has."""

    def __init__(self, call: RouteCall, chunks: AsyncGenerator[ChunkT, None]) -> None:
        self._call = call
        self._chunks = chunks

    def __aiter__(self) -> RoutedStream[ChunkT]:
        return self

    async def __anext__(self) -> ChunkT:
        return await anext(self._chunks)

    async def aclose(self) -> None:
        await self._chunks.aclose()

    @property
    def answered_route(self) -> RouteConfig | None:
        return self._call.answered_route

    @property
    def answered_label(self) -> str | None:
        return self._call.answered_label


class RouterBase(ABC, Generic[ProviderT]):
    """What all three routers share: route order, breakers, provider cache, decisions, and
    the failover of a route that errs before its answer. State of one call lives in its
    `RouteCall`, never on the router."""

    stage: Stage

    def __init__(
        self,
        routes: tuple[RouteConfig, ...] | list[RouteConfig],
        *,
        provider_factory: Callable[[RouteConfig], ProviderT] | None = None,
        breakers: BreakerRegistry | None = None,
        clock: Clock | None = None,
        on_decision: DecisionCallback | None = None,
        meter: UsageMeter | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.meter = meter
        self._provider_factory: Callable[[RouteConfig], ProviderT] = (
            provider_factory or self._default_provider
        )
        self._breakers = breakers or process_breakers()
        self._clock: Clock = clock or MonotonicClock()
        self._on_decision = on_decision
        self._providers: dict[RouteConfig, ProviderT] = {}

    @abstractmethod
    def _default_provider(self, route: RouteConfig) -> ProviderT:
        """The stage's provider for a route (each router imports its own, late)."""

    def _begin(self, call: RouteCall | None = None) -> RouteCall:
        """Start a call now (a streamed one's `RouteCall` exists before its first chunk)."""
        call = call or RouteCall()
        call.started_at = self._clock.monotonic()
        return call

    def _decide(
        self, call: RouteCall, route: RouteConfig, action: Action, reason: str = ""
    ) -> None:
        decision = RouteDecision(
            stage=self.stage,
            route=route_label(route),
            action=action,
            reason=reason,
            elapsed_ms=(self._clock.monotonic() - call.started_at) * 1000,
        )
        logger.debug("route decision %s", decision)
        if self._on_decision is not None:
            self._on_decision(decision)

    def _admit(
        self, call: RouteCall, route: RouteConfig
    ) -> tuple[ProviderT, CircuitBreaker] | None:
        """The route's provider and breaker if it may be used now, else None (reason noted)."""
        try:
            provider = self._provider(route)
        except ProviderUnavailableError as error:
            logger.warning("%s route %s unavailable: %s", self.stage, route_label(route), error)
            self._decide(call, route, "skipped", error.code)
            call.failures.append(
                RouteFailure(route_label(route), f"skipped: {error.message}", error.code)
            )
            return None
        breaker = self._breakers.get(breaker_key(self.stage, route))
        if not breaker.allow_request():
            reason = f"circuit open, retry in {breaker.retry_after_s():.1f} s"
            self._decide(call, route, "breaker_open", reason)
            call.failures.append(RouteFailure(route_label(route), reason, "circuit_open"))
            return None
        return provider, breaker

    def _selected(self, call: RouteCall) -> Iterator[tuple[RouteConfig, ProviderT, CircuitBreaker]]:
        """The routes that may be tried now, in order, each announced as selected."""
        for route in self.routes:
            admitted = self._admit(call, route)
            if admitted is None:
                continue
            provider, breaker = admitted
            self._decide(call, route, "selected")
            yield route, provider, breaker

    async def _answer(
        self,
        call: RouteCall,
        route: RouteConfig,
        breaker: CircuitBreaker,
        answer: Awaitable[AnswerT],
    ) -> AnswerT | None:
        """Await what decides a route (a transcript, the first audio): the route wins, or its
        failure is noted and None returned so the caller fails over. An error that is the
        request's own (an `AuraError` that is no `ProviderError`) or a cancel ends the call."""
        try:
            result = await answer
        except ProviderError as error:
            self._fail(call, route, breaker, error)
            return None
        except (AuraError, asyncio.CancelledError):
            breaker.release()
            raise
        except Exception as error:
            self._fail(call, route, breaker, unexpected_failure(route, error))
            return None
        self._win(call, route, breaker)
        return result

    def _provider(self, route: RouteConfig) -> ProviderT:
        provider = self._providers.get(route)
        if provider is None:
            provider = self._provider_factory(route)
            self._providers[route] = provider
        return provider

    def _fail(
        self, call: RouteCall, route: RouteConfig, breaker: CircuitBreaker, error: ProviderError
    ) -> None:
        if counts_against_route(error):
            breaker.record_failure()
        else:
            breaker.release()
        logger.warning("%s route %s failed: %s", self.stage, route_label(route), error.message)
        self._decide(call, route, "failed", public_reason(error))
        call.failures.append(RouteFailure(route_label(route), error.message, error.code))

    def _failed_after_output(
        self, call: RouteCall, route: RouteConfig, breaker: CircuitBreaker, error: ProviderError
    ) -> None:
        """The answering route failed once output had reached the caller: no failover."""
        if counts_against_route(error):
            breaker.record_failure()
        logger.warning(
            "%s route %s failed after output: %s", self.stage, route_label(route), error.message
        )
        self._decide(call, route, "failed", f"after output, no failover: {public_reason(error)}")

    def _win(self, call: RouteCall, route: RouteConfig, breaker: CircuitBreaker) -> None:
        breaker.record_success()
        call.answered_route = route
        self._decide(call, route, "won")

    def _exhausted(self, call: RouteCall) -> RoutesExhaustedError:
        return RoutesExhaustedError(self.stage, tuple(call.failures))


def unexpected_failure(route: RouteConfig, error: Exception) -> ProviderError:
    """A provider bug becomes a route failure, so other routes still get their chance."""
    logger.error("provider %s crashed", route_label(route), exc_info=error)
    return ProviderError(
        f"{route_label(route)} crashed: {type(error).__name__}: {error}",
        provider=route.provider,
        retryable=True,
    )


async def close_iterator(iterator: AsyncIterator[object] | None) -> None:
    """Close an async generator now, so its `finally` (closing a stream) runs in this task."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
