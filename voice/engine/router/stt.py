"""The STT router: one transcription, failing over route by route."""

from __future__ import annotations

import asyncio

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
    unexpected_failure,
)
from voice.engine.stt.base import SpeechToText, Transcript, TranscriptionRequest


class STTRouter(RouterBase[SpeechToText]):
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

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
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
                transcript = await provider.transcribe(request)
                if self.meter is not None:
                    self.meter.stt(route.provider, route.model, seconds=request.duration_s)
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
