"""Voice-activity detector contract: speech probability per fixed-size 16 kHz frame."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt


class VoiceActivityDetector(ABC):
    name: str
    frame_samples: int  # at 16 kHz

    @abstractmethod
    def speech_probability(self, frame_16k: npt.NDArray[np.int16]) -> float:
        """Probability in [0, 1] that this frame holds speech (cheap: called inline)."""

    def reset(self) -> None:  # noqa: B027 - stateless detectors need nothing
        """Forget any recurrent state (new stream)."""
