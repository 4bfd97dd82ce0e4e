"""The TTS router: synthesized audio from the first healthy route, with its rate."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.config import RouteConfig
from voice.engine.errors import ProviderError
from voice.engine.routing.base import RouteCall, RoutedStream, RouterBase, Stage, close_iterator
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
        from voice.engine.routing.providers import tts_from_route

        return tts_from_route(route)

    def synthesize(self, text: str, *, voice: str | None = None) -> RoutedStream[TTSChunk]:
        """Yield the clause's audio, tagged with the answering route's sample rate.

        Raises (while iterated):
            RoutesExhaustedError: No route produced audio.
            ProviderError: The answering route failed after audio was yielded.
        """
        call = RouteCall()
        return RoutedStream(call, self._synthesize(call, text, voice))

    async def _synthesize(
        self, call: RouteCall, text: str, voice: str | None
    ) -> AsyncGenerator[TTSChunk, None]:
        self._begin(call)
        for route, provider, breaker in self._selected(call):
            chunks = provider.synthesize(text, voice=voice)
            try:
                first = await self._answer(call, route, breaker, _first_audio(chunks))
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
                self._failed_after_output(call, route, breaker, error)
                raise
            finally:
                await close_iterator(chunks)
        raise self._exhausted(call)


async def _first_audio(chunks: AsyncIterator[npt.NDArray[np.int16]]) -> npt.NDArray[np.int16]:
    """The first chunk; empty when the text made no audio."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return np.zeros(0, dtype=np.int16)
