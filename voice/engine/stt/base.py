"""Speech-to-text provider contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    audio_duration_s: float = 0.0


class SpeechToText(ABC):
    """Transcribes one utterance of 16 kHz mono PCM16 audio."""

    provider: str
    model: str
    # A local model transcribes in a thread that a cancel cannot stop, so an abandoned guess
    # keeps the CPU busy; a request to a remote provider ends when it is cancelled.
    runs_locally: bool = False

    @abstractmethod
    async def transcribe(
        self, audio_16k: npt.NDArray[np.int16], *, language: str | None = None
    ) -> Transcript:
        """Return the transcript; CPU-bound work must run off the event loop."""
