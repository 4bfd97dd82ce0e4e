"""Speech-to-text provider contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.config import PIPELINE_RATE_HZ


@dataclass(frozen=True, slots=True)
class TranscriptionHints:
    """What the speaker is likely to say: the agent's terms and the session's prompt.

    Each provider passes them in the form it takes (faster-whisper: `hotwords` and a previous-
    text prompt; OpenAI: `prompt`), so product and proper names come out spelled right.
    """

    terms: tuple[str, ...] = ()
    prompt: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms or self.prompt.strip())

    def terms_text(self) -> str:
        """The terms as one phrase ("Quorvex, Zyntrava"); empty without terms."""
        return ", ".join(term.strip() for term in self.terms if term.strip())

    def as_prompt(self) -> str:
        """The terms and the prompt as one text, for providers that take a single prompt."""
        terms = self.terms_text()
        parts = [self.prompt.strip(), f"{terms}." if terms else ""]
        return " ".join(part for part in parts if part)


NO_HINTS = TranscriptionHints()


@dataclass(frozen=True, slots=True, eq=False)
class TranscriptionRequest:
    """One utterance to transcribe, as every `SpeechToText` (and the STT router) takes it."""

    # Mono 16 kHz PCM16 samples.
    audio_16k: npt.NDArray[np.int16]
    # ISO 639-1 code ("en-US" is accepted); None lets a multilingual model detect it.
    language: str | None = None
    hints: TranscriptionHints = NO_HINTS

    @property
    def duration_s(self) -> float:
        return self.audio_16k.size / PIPELINE_RATE_HZ


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    audio_duration_s: float = 0.0
    # "provider/model" of the route that transcribed it, when a router chose one.
    route: str | None = None


class SpeechToText(ABC):
    """Transcribes one utterance of 16 kHz mono PCM16 audio."""

    provider: str
    model: str
    # A local model transcribes in a thread that a cancel cannot stop, so an abandoned guess
    # keeps the CPU busy; a request to a remote provider ends when it is cancelled.
    runs_locally: bool = False

    @abstractmethod
    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        """Return the transcript; CPU-bound work must run off the event loop."""
