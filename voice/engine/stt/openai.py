"""Speech-to-text over OpenAI's /audio/transcriptions (OpenAI, or any compatible server)."""

from __future__ import annotations

import io
import wave

import numpy as np
import numpy.typing as npt
from openai import omit

from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.errors import AudioFormatError
from voice.engine.openai_client import SDK_ERRORS, provider_error, shared_client
from voice.engine.stt.base import NO_HINTS, SpeechToText, Transcript, TranscriptionHints


class OpenAISTT(SpeechToText):
    """Sends one utterance as an in-memory 16 kHz PCM16 WAV file and returns its text.

    Args:
        provider: Label used in errors and metrics.
        model: Transcription model ("gpt-4o-mini-transcribe", "whisper-1", ...).
        api_key: Bearer token.
        base_url: Server root ending in /v1; None means the SDK default.
        public_only: None for the operator's own endpoints; for a base_url an
            organization chose, the hosts besides public addresses it may reach.
        timeout_s: Request timeout.
    """

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        api_key: str,
        base_url: str | None = None,
        public_only: tuple[str, ...] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.provider = provider
        self.model = model
        self._api_key = api_key
        self.base_url = base_url
        self._public_only = public_only
        self._timeout_s = timeout_s

    async def transcribe(
        self,
        audio_16k: npt.NDArray[np.int16],
        *,
        language: str | None = None,
        hints: TranscriptionHints = NO_HINTS,
    ) -> Transcript:
        """Transcribe the utterance; raises `ProviderError` when the server fails.

        The hints go as OpenAI's `prompt` (the terms as a list after the session's prompt).
        """
        wav = wav_bytes(audio_16k)
        client = shared_client(
            base_url=self.base_url,
            api_key=self._api_key,
            timeout_s=self._timeout_s,
            public_only=self._public_only,
        )
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
            audio_duration_s=len(audio_16k) / PIPELINE_RATE_HZ,
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
