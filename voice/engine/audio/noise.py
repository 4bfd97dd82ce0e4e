"""Noise suppression and automatic gain (WebRTC's, through `webrtc-noise-gain`).

Chosen over RNNoise (`pyrnnoise`) after measuring both on the project's recordings mixed with
noise (docs/benchmarks.md): WebRTC's suppressor works at 16 kHz directly and costs ~1-5 ms of
CPU per second of audio (10-50 us per 10 ms frame, so it runs on the event loop), while
RNNoise needs 48 kHz (two resamplings), cost ~30 ms per second here, transcribed worse, and its
package pulls in PyAV, matplotlib and tqdm.

`audio.input.noise_reduction` picks a profile: `near_field` (a headset or handset: moderate
suppression, no gain) or `far_field` (a laptop or room microphone: stronger suppression and
automatic gain, which lifts a distant voice towards the VAD's and Whisper's comfort zone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from webrtc_noise_gain import AudioProcessor

from voice.engine.config import PIPELINE_RATE_HZ, NoiseReduction

Audio = npt.NDArray[np.int16]
FRAME_SAMPLES = PIPELINE_RATE_HZ // 100  # WebRTC processes 10 ms at a time


@dataclass(frozen=True, slots=True)
class SuppressionProfile:
    # WebRTC noise suppression level, 0 (off) to 4 (most aggressive).
    suppression_level: int
    # Automatic gain's target level in -dBFS (1-31), or 0 for no automatic gain.
    gain_target_dbfs: int


PROFILES: dict[NoiseReduction, SuppressionProfile] = {
    "near_field": SuppressionProfile(suppression_level=2, gain_target_dbfs=0),
    "far_field": SuppressionProfile(suppression_level=3, gain_target_dbfs=9),
}


class NoiseSuppressor:
    """Suppresses stationary noise (and evens out the level) in 16 kHz mono int16 audio.

    Works on whole 10 ms frames; `process` returns only the frames completed so far and keeps
    the rest for the next call, so output lags input by under 10 ms.
    """

    def __init__(self, mode: NoiseReduction) -> None:
        profile = PROFILES[mode]
        self.mode = mode
        self._processor = AudioProcessor(profile.gain_target_dbfs, profile.suppression_level)
        self._pending = np.zeros(0, dtype=np.int16)

    def process(self, audio: Audio) -> Audio:
        samples = np.concatenate([self._pending, audio]) if len(self._pending) else audio
        usable = len(samples) - len(samples) % FRAME_SAMPLES
        self._pending = samples[usable:].copy()
        if usable == 0:
            return np.zeros(0, dtype=np.int16)
        frames = [
            self._processor.Process10ms(samples[start : start + FRAME_SAMPLES].tobytes()).audio
            for start in range(0, usable, FRAME_SAMPLES)
        ]
        return np.frombuffer(b"".join(frames), dtype=np.int16).copy()
