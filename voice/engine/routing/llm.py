"""The LLM router: the first healthy route streams the answer; a route silent past its
first-token budget gets the next route started beside it (hedging), the first to speak wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, field

from voice.engine.config import RouteConfig
from voice.engine.errors import AuraError, ProviderError
from voice.engine.llm.base import LanguageModel, LLMChunk, LLMRequest
from voice.engine.observability.usage import GenerationTally, Outcome
from voice.engine.routing.base import (
    RouteCall,
    RoutedStream,
    RouterBase,
    Stage,
    close_iterator,
    route_label,
    unexpected_failure,
)
from voice.engine.routing.breaker import CircuitBreaker


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


class LLMRouter(RouterBase[LanguageModel]):
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
        from voice.engine.routing.providers import llm_from_route

        return llm_from_route(route)

    def stream(self, request: LLMRequest) -> RoutedStream[LLMChunk]:
        """Stream the answer with the contract of `LanguageModel.stream`; the stream names
        the route that answered.

        Raises (while iterated):
            RoutesExhaustedError: No route produced output (each one's reason included).
            ProviderError: The answering route failed after output was yielded.
        """
        call = RouteCall()
        return RoutedStream(call, self._stream(call, request))

    async def _stream(self, call: RouteCall, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self._begin(call)
        race = _Race(self, call, request)
        try:
            winner, first = await race.run()
            yield first
            async for chunk in self._follow(call, winner):
                yield chunk
        finally:
            await race.cancel_all()

    async def _follow(self, call: RouteCall, winner: _Attempt) -> AsyncIterator[LLMChunk]:
        while True:
            item = await winner.queue.get()
            if isinstance(item, _StreamEnded):
                return
            if isinstance(item, ProviderError):
                self._failed_after_output(call, winner.route, winner.breaker, item)
                raise item
            if isinstance(item, AuraError):
                raise item
            yield item


class _Race:
    """Phase one of an LLM call: start routes until one yields its first chunk."""

    def __init__(self, router: LLMRouter, call: RouteCall, request: LLMRequest) -> None:
        self._router = router
        self._call = call
        self._request = request
        self._pending: Iterator[RouteConfig] = iter(router.routes)
        self._no_more_routes = False
        self._attempts: list[_Attempt] = []
        self._running: list[_Attempt] = []
        self._arrivals: asyncio.Queue[_Attempt] = asyncio.Queue()

    async def run(self) -> tuple[_Attempt, LLMChunk]:
        """Return the winning attempt and its first chunk; the others are cancelled."""
        while True:
            if not self._running and not self._start_next(hedge=False):
                raise self._router._exhausted(self._call)
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
                self._router._fail(self._call, attempt.route, attempt.breaker, error)
                continue
            attempt.settled = True
            self._router._win(self._call, attempt.route, attempt.breaker)
            await self._cancel(self._running, "another route answered first")
            return attempt, first

    def _start_next(self, *, hedge: bool) -> bool:
        """Start the next usable route; False when none is left."""
        for route in self._pending:
            admitted = self._router._admit(self._call, route)
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
            self._router._decide(self._call, route, "hedged" if hedge else "selected", reason)
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
                self._router._decide(self._call, attempt.route, "cancelled", reason)
        self._running = [a for a in self._running if a not in attempts]


def _empty_stream(attempt: _Attempt) -> ProviderError:
    return ProviderError(
        f"{route_label(attempt.route)} ended its stream without any output",
        provider=attempt.route.provider,
        retryable=True,
        code="incomplete_stream",
    )
