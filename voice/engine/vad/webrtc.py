"""WebRTC's GMM voice-activity detector: microseconds per frame, a yes/no answer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import webrtcvad

from voice.engine.audio.pcm import pcm16_to_bytes
from voice.engine.config import PIPELINE_RATE_HZ
from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.vad.base import VoiceActivityDetector

FRAME_MS = 20


def aggressiveness_for_threshold(threshold: float) -> int:
    """Map an OpenAI-style threshold (0..1) onto WebRTC's aggressiveness modes (0..3).

    Both mean "how sure must we be that this is speech": the range is cut into four equal
    bands, [0, .25) → 0 (lets most sound through), [.25, .5) → 1, [.5, .75) → 2 (the default
    0.5 lands here: rejects steady background noise, keeps quiet speech), [.75, 1] → 3
    (noisy rooms; may clip soft word onsets).
    """
    if not 0.0 <= threshold <= 1.0:
        raise InvalidRequestError(
            f"threshold must be between 0 and 1; got {threshold}", param="threshold"
        )
    return min(3, int(threshold * 4))


class WebRtcVad(VoiceActivityDetector):
    """Voice activity from WebRTC on 20 ms frames at 16 kHz; probability is 0.0 or 1.0."""

    name = "webrtc"
    frame_samples = PIPELINE_RATE_HZ * FRAME_MS // 1000

    def __init__(self, aggressiveness: int = 2) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise InvalidRequestError(
                f"webrtc aggressiveness must be 0..3; got {aggressiveness}", param="threshold"
            )
        self.aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    @classmethod
    def from_threshold(cls, threshold: float) -> WebRtcVad:
        return cls(aggressiveness_for_threshold(threshold))

    def speech_probability(self, frame_16k: npt.NDArray[np.int16]) -> float:
        if frame_16k.shape != (self.frame_samples,):
            raise AudioFormatError(
                f"webrtc VAD needs frames of {self.frame_samples} samples; got {frame_16k.shape}"
            )
        return 1.0 if self._vad.is_speech(pcm16_to_bytes(frame_16k), PIPELINE_RATE_HZ) else 0.0

    def reset(self) -> None:
        # The C detector adapts its noise model over time; a new stream starts from scratch.
        self._vad = webrtcvad.Vad(self.aggressiveness)
