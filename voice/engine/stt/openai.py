"""Speech-to-text over OpenAI's /audio/transcriptions (OpenAI, or any compatible server)."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt
from openai import omit

from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.errors import AudioFormatError
from voice.engine.net.openai_client import SDK_ERRORS, OpenAIEndpoint, provider_error
from voice.engine.stt.base import SpeechToText, Transcript, TranscriptionRequest


class OpenAISTT(SpeechToText):
    """Sends one utterance as an in-memory 16 kHz PCM16 WAV file and returns its text.

    Args:
        endpoint: Where and how the server is called (provider label, model, key, URL).
    """

    def __init__(
        self,
        *,
        endpoint: OpenAIEndpoint,
    ) -> None:
        self.endpoint = endpoint
        self.provider = endpoint.provider
        self.model = endpoint.model
        self.base_url = endpoint.base_url

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        """Transcribe the utterance; raises `ProviderError` when the server fails.

        The hints go as OpenAI's `prompt` (the terms as a list after the session's prompt).
        """
        wav = wav_bytes(request.audio_16k)
        language, hints = request.language, request.hints
        client = self.endpoint.client()
        try:
            result = await client.audio.transcriptions.create(
                file=("utterance.wav", wav, "audio/wav"),
                model=self.model,
                language=language or omit,
                prompt=hints.as_prompt() if hints else omit,
            )
        except SDK_ERRORS as error:
            raise provider_error(error, provider=self.provider) from error
        return Transcript(
            text=result.text.strip(),
            language=language,
            audio_duration_s=request.duration_s,
        )


def wav_bytes(audio_16k: npt.NDArray[np.int16]) -> bytes:
    """A mono 16 kHz PCM16 WAV file holding the samples."""
    if audio_16k.dtype != np.int16 or audio_16k.ndim != 1:
        raise AudioFormatError(
            f"speech-to-text needs mono int16 samples, got {audio_16k.dtype} "
            f"with shape {audio_16k.shape}"
        )
    if audio_16k.size == 0:
        raise AudioFormatError("cannot transcribe an empty utterance")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PIPELINE_RATE_HZ)
        wav.writeframes(audio_16k.astype("<i2", copy=False).tobytes())
    return buffer.getvalue()
