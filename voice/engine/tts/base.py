"""Text-to-speech provider contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt


class TextToSpeech(ABC):
    """Synthesizes one clause of text as a stream of mono PCM16 chunks."""

    provider: str
    model: str
    sample_rate_hz: int

    @abstractmethod
    def synthesize(
        self, text: str, *, voice: str | None = None
    ) -> AsyncIterator[npt.NDArray[np.int16]]:
        """Yield audio at `sample_rate_hz` as soon as it exists; stop promptly when cancelled."""
