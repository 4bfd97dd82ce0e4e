"""Text-to-speech over OpenAI's /audio/speech, streamed as raw 24 kHz PCM16."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from voice.engine.net.openai_client import SDK_ERRORS, OpenAIEndpoint, provider_error
from voice.engine.tts.base import TextToSpeech

logger = logging.getLogger(__name__)

OPENAI_PCM_RATE_HZ = 24_000
DEFAULT_VOICE = "alloy"


class OpenAITTS(TextToSpeech):
    """Streams speech for one clause as int16 chunks at 24 kHz.

    Args:
        endpoint: Where and how the server is called (provider label, model, key, URL).
        default_voice: Voice used when `synthesize` is given none.
    """

    sample_rate_hz = OPENAI_PCM_RATE_HZ

    def __init__(
        self,
        *,
        endpoint: OpenAIEndpoint,
        default_voice: str = DEFAULT_VOICE,
    ) -> None:
        self.endpoint = endpoint
        self.provider = endpoint.provider
        self.model = endpoint.model
        self.base_url = endpoint.base_url
        self._default_voice = default_voice

    async def synthesize(
        self, text: str, *, voice: str | None = None
    ) -> AsyncIterator[npt.NDArray[np.int16]]:
        """Yield audio as it arrives; blank text yields nothing and costs no request."""
        if not text.strip():
            return
        client = self.endpoint.client()
        request = client.audio.speech.with_streaming_response.create(
            model=self.model,
            voice=voice or self._default_voice,
            input=text,
            response_format="pcm",
        )
        # A sample's two bytes may arrive in different network chunks.
        leftover = b""
        try:
            async with request as response:
                async for data in response.iter_bytes():
                    data = leftover + data
                    usable_bytes = len(data) - len(data) % 2
                    leftover = data[usable_bytes:]
                    if usable_bytes:
                        yield np.frombuffer(data[:usable_bytes], dtype="<i2").astype(np.int16)
        except SDK_ERRORS as error:
            raise provider_error(error, provider=self.provider) from error
        if leftover:
            logger.warning("%s sent an odd number of PCM bytes; dropped the last", self.provider)
