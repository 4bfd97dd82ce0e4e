"""The STT router: one transcription, failing over route by route."""

from __future__ import annotations

from dataclasses import replace

from voice.engine.config import RouteConfig
from voice.engine.routing.base import RouterBase, Stage, route_label
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
        from voice.engine.routing.providers import stt_from_route

        return stt_from_route(route)

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        """Return the first route's transcript that succeeds, naming that route in its `route`.

        Raises:
            RoutesExhaustedError: Every route failed or was skipped.
            AudioFormatError: The audio itself is unusable (no route is tried after that).
        """
        call = self._begin()
        for route, provider, breaker in self._selected(call):
            transcript = await self._answer(
                call, route, breaker, self._metered(provider, route, request)
            )
            if transcript is not None:
                return replace(transcript, route=route_label(route))
        raise self._exhausted(call)

    async def _metered(
        self, provider: SpeechToText, route: RouteConfig, request: TranscriptionRequest
    ) -> Transcript:
        transcript = await provider.transcribe(request)
        if self.meter is not None:
            self.meter.stt(route.provider, route.model, seconds=request.duration_s)
        return transcript
