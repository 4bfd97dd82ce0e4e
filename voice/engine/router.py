"""Routes each model call over an ordered list of providers, with failover and hedging.

The router composes providers; it is not one. For every call it walks the configured routes in
order, skipping those whose circuit is open or that cannot be built (a missing API key), fails
over when a route errs before producing output, and for the LLM hedges: a route silent past its
first-token budget gets the next route started beside it, and the first to speak wins. Once
output has reached the caller the router never switches routes (the user would hear the start
of the answer twice); a later error propagates.

Every decision is reported as a `RouteDecision`, for metrics and the admin live view.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from voice.engine.breaker import BreakerRegistry, CircuitBreaker, process_breakers
from voice.engine.config import PIPELINE_RATE_HZ, RouteConfig
from voice.engine.errors import (
    AllRoutesFailedError,
    AuraError,
    ProviderError,
    ProviderUnavailableError,
)
from voice.engine.llm.base import LanguageModel, LLMChunk, LLMRequest
from voice.engine.openai_client import REQUEST_FAULT_STATUSES
from voice.engine.ports import Clock, MonotonicClock
from voice.engine.stt.base import NO_HINTS, SpeechToText, Transcript, TranscriptionHints
from voice.engine.tts.base import TextToSpeech
from voice.engine.usage import GenerationTally, Outcome, UsageMeter

logger = logging.getLogger(__name__)

Stage = Literal["llm", "stt", "tts"]
Action = Literal["selected", "skipped", "failed", "hedged", "won", "cancelled", "breaker_open"]
ProviderT = TypeVar("ProviderT", LanguageModel, SpeechToText, TextToSpeech)


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


@dataclass(frozen=True, slots=True, eq=False)
class TTSChunk:
    """Synthesized audio and its rate, which depends on the route that answered."""

    samples: npt.NDArray[np.int16]
    sample_rate_hz: int


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


class _Router(Generic[ProviderT]):
    """What all three routers share: route order, breakers, provider cache, decisions."""

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
        self._started_at = 0.0
        self.answered_route: RouteConfig | None = None

    def _default_provider(self, route: RouteConfig) -> ProviderT:
        raise NotImplementedError

    @property
    def answered_label(self) -> str | None:
        """ "provider/model" of the route that answered the last call, if one did."""
        return route_label(self.answered_route) if self.answered_route else None

    def _begin(self) -> None:
        self._started_at = self._clock.monotonic()
        self.answered_route = None

    def _decide(self, route: RouteConfig, action: Action, reason: str = "") -> None:
        decision = RouteDecision(
            stage=self.stage,
            route=route_label(route),
            action=action,
            reason=reason,
            elapsed_ms=(self._clock.monotonic() - self._started_at) * 1000,
        )
        logger.debug("route decision %s", decision)
        if self._on_decision is not None:
            self._on_decision(decision)

    def _admit(
        self, route: RouteConfig, failures: list[RouteFailure]
    ) -> tuple[ProviderT, CircuitBreaker] | None:
        """The route's provider and breaker if it may be used now, else None (reason noted)."""
        try:
            provider = self._provider(route)
        except ProviderUnavailableError as error:
            logger.warning("%s route %s unavailable: %s", self.stage, route_label(route), error)
            self._decide(route, "skipped", error.code)
            failures.append(
                RouteFailure(route_label(route), f"skipped: {error.message}", error.code)
            )
            return None
        breaker = self._breakers.get(breaker_key(self.stage, route))
        if not breaker.allow_request():
            reason = f"circuit open, retry in {breaker.retry_after_s():.1f} s"
            self._decide(route, "breaker_open", reason)
            failures.append(RouteFailure(route_label(route), reason, "circuit_open"))
            return None
        return provider, breaker

    def _provider(self, route: RouteConfig) -> ProviderT:
        provider = self._providers.get(route)
        if provider is None:
            provider = self._provider_factory(route)
            self._providers[route] = provider
        return provider

    def _fail(
        self,
        route: RouteConfig,
        breaker: CircuitBreaker,
        error: ProviderError,
        failures: list[RouteFailure],
    ) -> None:
        if counts_against_route(error):
            breaker.record_failure()
        else:
            breaker.release()
        logger.warning("%s route %s failed: %s", self.stage, route_label(route), error.message)
        self._decide(route, "failed", public_reason(error))
        failures.append(RouteFailure(route_label(route), error.message, error.code))

    def _failed_after_output(self, route: RouteConfig, error: ProviderError) -> None:
        logger.warning(
            "%s route %s failed after output: %s", self.stage, route_label(route), error.message
        )
        self._decide(route, "failed", f"after output, no failover: {public_reason(error)}")

    def _win(self, route: RouteConfig, breaker: CircuitBreaker) -> None:
        breaker.record_success()
        self.answered_route = route
        self._decide(route, "won")


def unexpected_failure(route: RouteConfig, error: Exception) -> ProviderError:
    """A provider bug becomes a route failure, so other routes still get their chance."""
    logger.error("provider %s crashed", route_label(route), exc_info=error)
    return ProviderError(
        f"{route_label(route)} crashed: {type(error).__name__}: {error}",
        provider=route.provider,
        retryable=True,
    )


# -- LLM ------------------------------------------------------------------------------------


class _StreamEnded:
    """Queue marker: the provider's stream finished normally."""


_ENDED = _StreamEnded()
# AuraErrors that are not ProviderErrors are the request's fault and end the whole call.
_QueueItem = LLMChunk | _StreamEnded | AuraError


@dataclass(eq=False)
class _Attempt:
    """One route's stream in flight, pumped by its own task into its own queue."""

    route: RouteConfig
    breaker: CircuitBreaker
    started_at: float
    queue: asyncio.Queue[_QueueItem] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    settled: bool = False  # the breaker has had its verdict (or its probe back)


class LLMRouter(_Router[LanguageModel]):
    """Streams an answer from the first healthy LLM route, hedging slow ones.

    Args:
        routes: In order of preference.
        breakers: Where each route's breaker lives; defaults to the process-wide registry.
        provider_factory: Builds a provider for a route; raises `ProviderUnavailableError`
            when the route cannot be used (the route is then skipped).
        clock: For `RouteDecision.elapsed_ms`.
        on_decision: Called with every `RouteDecision`.
        meter: Told the tokens of every generation, including cancelled and hedged ones.
    """

    stage: Stage = "llm"

    def _default_provider(self, route: RouteConfig) -> LanguageModel:
        # Imported late: the providers pull in SDKs that a router built with a factory
        # (as in tests) never needs.
        from voice.engine.providers import llm_from_route

        return llm_from_route(route)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        """Stream the answer with the contract of `LanguageModel.stream`.

        Raises:
            RoutesExhaustedError: No route produced output (each one's reason included).
            ProviderError: The answering route failed after output was yielded.
        """
        self._begin()
        race = _Race(self, request)
        try:
            winner, first = await race.run()
            yield first
            async for chunk in self._follow(winner):
                yield chunk
        finally:
            await race.cancel_all()

    async def _follow(self, winner: _Attempt) -> AsyncIterator[LLMChunk]:
        while True:
            item = await winner.queue.get()
            if isinstance(item, _StreamEnded):
                return
            if isinstance(item, ProviderError):
                if counts_against_route(item):
                    winner.breaker.record_failure()
                self._failed_after_output(winner.route, item)
                raise item
            if isinstance(item, AuraError):
                raise item
            yield item


class _Race:
    """Phase one of an LLM call: start routes until one yields its first chunk."""

    def __init__(self, router: LLMRouter, request: LLMRequest) -> None:
        self._router = router
        self._request = request
        self._pending: Iterator[RouteConfig] = iter(router.routes)
        self._no_more_routes = False
        self._attempts: list[_Attempt] = []
        self._running: list[_Attempt] = []
        self._failures: list[RouteFailure] = []
        self._arrivals: asyncio.Queue[_Attempt] = asyncio.Queue()

    async def run(self) -> tuple[_Attempt, LLMChunk]:
        """Return the winning attempt and its first chunk; the others are cancelled."""
        while True:
            if not self._running and not self._start_next(hedge=False):
                raise RoutesExhaustedError("llm", tuple(self._failures))
            latest = self._running[-1]
            hedge_at = None
            if not self._no_more_routes:
                hedge_at = latest.started_at + latest.route.first_token_budget_ms / 1000
            try:
                async with asyncio.timeout_at(hedge_at):
                    attempt = await self._arrivals.get()
            except TimeoutError:
                self._start_next(hedge=True)
                continue
            first = attempt.queue.get_nowait()
            self._running.remove(attempt)
            if isinstance(first, AuraError) and not isinstance(first, ProviderError):
                raise first
            if isinstance(first, ProviderError | _StreamEnded):
                error = first if isinstance(first, ProviderError) else _empty_stream(attempt)
                attempt.settled = True
                self._router._fail(attempt.route, attempt.breaker, error, self._failures)
                continue
            attempt.settled = True
            self._router._win(attempt.route, attempt.breaker)
            await self._cancel(self._running, "another route answered first")
            return attempt, first

    def _start_next(self, *, hedge: bool) -> bool:
        """Start the next usable route; False when none is left."""
        for route in self._pending:
            admitted = self._router._admit(route, self._failures)
            if admitted is None:
                continue
            provider, breaker = admitted
            attempt = _Attempt(route, breaker, asyncio.get_running_loop().time())
            attempt.task = asyncio.create_task(
                self._pump(attempt, provider), name=f"llm-route {route_label(route)}"
            )
            self._attempts.append(attempt)
            self._running.append(attempt)
            reason = "first token budget exceeded" if hedge else ""
            self._router._decide(route, "hedged" if hedge else "selected", reason)
            return True
        self._no_more_routes = True
        return False

    async def _pump(self, attempt: _Attempt, provider: LanguageModel) -> None:
        """Forward the provider's chunks into the attempt's queue; report its first arrival."""
        announced = False
        chunks: AsyncIterator[LLMChunk] | None = None
        outcome: _StreamEnded | AuraError = _ENDED
        tally = GenerationTally(self._request)
        metered: Outcome = "answered"
        try:
            chunks = provider.stream(self._request)
            async for chunk in chunks:
                tally.saw(chunk)
                attempt.queue.put_nowait(chunk)
                if not announced:
                    announced = True
                    self._arrivals.put_nowait(attempt)
        except AuraError as error:
            outcome, metered = error, "failed"
        except asyncio.CancelledError:
            metered = "cancelled"
            raise
        except Exception as error:
            outcome, metered = unexpected_failure(attempt.route, error), "failed"
        finally:
            await close_iterator(chunks)
            if self._router.meter is not None:
                route = attempt.route
                tally.report(self._router.meter, route.provider, route.model, metered)
        attempt.queue.put_nowait(outcome)
        if not announced:
            self._arrivals.put_nowait(attempt)

    async def cancel_all(self) -> None:
        """Stop every route still streaming (the consumer left, or the answer ended)."""
        await self._cancel(self._attempts, "the caller stopped listening")

    async def _cancel(self, attempts: list[_Attempt], reason: str) -> None:
        tasks = [a.task for a in attempts if a.task is not None and not a.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for attempt in attempts:
            if not attempt.settled:
                attempt.settled = True
                attempt.breaker.release()
                self._router._decide(attempt.route, "cancelled", reason)
        self._running = [a for a in self._running if a not in attempts]


def _empty_stream(attempt: _Attempt) -> ProviderError:
    return ProviderError(
        f"{route_label(attempt.route)} ended its stream without any output",
        provider=attempt.route.provider,
        retryable=True,
        code="incomplete_stream",
    )


# -- STT and TTS ----------------------------------------------------------------------------


class STTRouter(_Router[SpeechToText]):
    """Transcribes with the first healthy STT route, failing over on provider errors."""

    stage: Stage = "stt"

    @property
    def runs_locally(self) -> bool:
        """Whether the route tried first is a local model (see `SpeechToText.runs_locally`)."""
        return bool(self.routes) and self.routes[0].provider == "local"

    def _default_provider(self, route: RouteConfig) -> SpeechToText:
        # Imported late: the providers pull in SDKs that a router built with a factory
        # (as in tests) never needs.
        from voice.engine.providers import stt_from_route

        return stt_from_route(route)

    async def transcribe(
        self,
        audio_16k: npt.NDArray[np.int16],
        *,
        language: str | None = None,
        hints: TranscriptionHints = NO_HINTS,
    ) -> Transcript:
        """Return the first route's transcript that succeeds (each route gets the hints).

        Raises:
            RoutesExhaustedError: Every route failed or was skipped.
            AudioFormatError: The audio itself is unusable (no route is tried after that).
        """
        self._begin()
        failures: list[RouteFailure] = []
        for route in self.routes:
            admitted = self._admit(route, failures)
            if admitted is None:
                continue
            provider, breaker = admitted
            self._decide(route, "selected")
            try:
                transcript = await provider.transcribe(audio_16k, language=language, hints=hints)
                if self.meter is not None:
                    seconds = audio_16k.size / PIPELINE_RATE_HZ
                    self.meter.stt(route.provider, route.model, seconds=seconds)
            except ProviderError as error:
                self._fail(route, breaker, error, failures)
                continue
            except (AuraError, asyncio.CancelledError):
                breaker.release()
                raise
            except Exception as error:
                self._fail(route, breaker, unexpected_failure(route, error), failures)
                continue
            self._win(route, breaker)
            return transcript
        raise RoutesExhaustedError("stt", tuple(failures))


class TTSRouter(_Router[TextToSpeech]):
    """Synthesizes with the first healthy TTS route; fails over only before the first audio."""

    stage: Stage = "tts"

    def _default_provider(self, route: RouteConfig) -> TextToSpeech:
        # Imported late: the providers pull in SDKs that a router built with a factory
        # (as in tests) never needs.
        from voice.engine.providers import tts_from_route

        return tts_from_route(route)

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[TTSChunk]:
        """Yield the clause's audio, tagged with the answering route's sample rate.

        Raises:
            RoutesExhaustedError: No route produced audio.
            ProviderError: The answering route failed after audio was yielded.
        """
        self._begin()
        failures: list[RouteFailure] = []
        for route in self.routes:
            admitted = self._admit(route, failures)
            if admitted is None:
                continue
            provider, breaker = admitted
            self._decide(route, "selected")
            chunks = provider.synthesize(text, voice=voice)
            try:
                first = await self._first_audio(route, breaker, chunks, failures)
                if first is None:
                    continue
                if self.meter is not None:
                    self.meter.tts(route.provider, route.model, characters=len(text))
                rate_hz = provider.sample_rate_hz
                if first.size:
                    yield TTSChunk(first, rate_hz)
                async for samples in chunks:
                    yield TTSChunk(samples, rate_hz)
                return
            except ProviderError as error:
                if counts_against_route(error):
                    breaker.record_failure()
                self._failed_after_output(route, error)
                raise
            finally:
                await close_iterator(chunks)
        raise RoutesExhaustedError("tts", tuple(failures))

    async def _first_audio(
        self,
        route: RouteConfig,
        breaker: CircuitBreaker,
        chunks: AsyncIterator[npt.NDArray[np.int16]],
        failures: list[RouteFailure],
    ) -> npt.NDArray[np.int16] | None:
        """The first chunk (empty when the text made no audio), or None if the route failed."""
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = np.zeros(0, dtype=np.int16)
        except ProviderError as error:
            self._fail(route, breaker, error, failures)
            return None
        except (AuraError, asyncio.CancelledError):
            breaker.release()
            raise
        except Exception as error:
            self._fail(route, breaker, unexpected_failure(route, error), failures)
            return None
        self._win(route, breaker)
        return first


async def close_iterator(iterator: AsyncIterator[object] | None) -> None:
    """Close an async generator now, so its `finally` (closing a stream) runs in this task."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
