"""The TTS router: synthesized audio from the first healthy route, with its rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.breaker import CircuitBreaker
from voice.engine.config import RouteConfig
from voice.engine.errors import (
    AuraError,
    ProviderError,
)
from voice.engine.router.base import (
    RouteFailure,
    RouterBase,
    RoutesExhaustedError,
    Stage,
    close_iterator,
    counts_against_route,
    unexpected_failure,
)
from voice.engine.tts.base import TextToSpeech


@dataclass(frozen=True, slots=True, eq=False)
class TTSChunk:
    """Synthesized audio and its rate, which depends on the route that answered."""

    samples: npt.NDArray[np.int16]
    sample_rate_hz: int


class TTSRouter(RouterBase[TextToSpeech]):
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
