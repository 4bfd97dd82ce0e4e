"""Audio quality of a user turn, measured from the audio the turn already holds; nothing is kept.

`input_quality` reads one utterance (16 kHz PCM16) with the VAD's segmentation of it: the
speech, and the unvoiced audio around it (the prefix padding before speech started and the
end-of-turn silence after it). From that it gives the speech level in dBFS, the share of
clipped samples, the noise floor and a signal-to-noise estimate. It is plain numpy over at most
a minute of audio (well under a millisecond a second of audio), run in a worker thread by the
session so the event loop never waits on it.

`ArrivalStats` watches when input chunks arrive against how much audio they carry: jitter (RFC
3550's running estimate) and gaps (audio that came more than `GAP_MS` later than real time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voice.engine.config import PIPELINE_RATE_HZ

FULL_SCALE = 32768.0
# A sample this close to full scale was (almost certainly) clipped by the capture chain.
CLIPPED_AT = 32_000
# Level reported for digital silence (log of zero).
SILENCE_DBFS = -120.0
FRAME_SAMPLES = PIPELINE_RATE_HZ // 50  # 20 ms
# Input audio that arrives this much later than its own duration says is a gap.
GAP_MS = 100.0
# Fewer unvoiced samples than this (50 ms) make no noise estimate.
MIN_NOISE_SAMPLES = PIPELINE_RATE_HZ // 20


@dataclass(frozen=True, slots=True)
class InputQuality:
    level_dbfs: float
    clipping_ratio: float
    noise_floor_dbfs: float | None
    snr_db: float | None


@dataclass(frozen=True, slots=True)
class ArrivalQuality:
    jitter_ms: float
    gaps: int


def dbfs(samples: npt.NDArray[np.int16]) -> float:
    """RMS level relative to full scale; `SILENCE_DBFS` for nothing or digital silence."""
    if len(samples) == 0:
        return SILENCE_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(rms / FULL_SCALE))


def input_quality(
    audio: npt.NDArray[np.int16], *, speech_start: int, speech_end: int
) -> InputQuality | None:
    """Quality of one utterance whose speech is `audio[speech_start:speech_end]`.

    The noise floor is measured on the unvoiced audio around the speech; an utterance with too
    little of it (a manual commit cut right at the words) falls back to its quietest 20 ms
    frames, the 10th percentile of frame levels.
    """
    if len(audio) == 0:
        return None
    start = min(max(speech_start, 0), len(audio))
    end = min(max(speech_end, start), len(audio))
    speech = audio[start:end] if end > start else audio
    unvoiced = np.concatenate((audio[:start], audio[end:]))
    level = dbfs(speech)
    clipped = int(np.count_nonzero(np.abs(audio.astype(np.int32)) >= CLIPPED_AT))
    noise: float | None
    noise = dbfs(unvoiced) if len(unvoiced) >= MIN_NOISE_SAMPLES else _quiet_frames_dbfs(audio)
    snr = None if noise is None else round(level - noise, 1)
    return InputQuality(
        level_dbfs=round(level, 1),
        clipping_ratio=round(clipped / len(audio), 5),
        noise_floor_dbfs=None if noise is None else round(noise, 1),
        snr_db=snr,
    )


def _quiet_frames_dbfs(audio: npt.NDArray[np.int16]) -> float | None:
    frames = len(audio) // FRAME_SAMPLES
    if frames < 5:
        return None
    levels = [dbfs(audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]) for i in range(frames)]
    return float(np.percentile(levels, 10))


class ArrivalStats:
    """Jitter and gaps of input audio against real time, since the last `take`."""

    def __init__(self) -> None:
        self._last_arrival_s: float | None = None
        self._last_duration_s = 0.0
        self._jitter_s = 0.0
        self._gaps = 0
        self._chunks = 0

    def chunk_arrived(self, samples: int, at_s: float) -> None:
        duration_s = samples / PIPELINE_RATE_HZ
        if self._last_arrival_s is not None:
            # How much later (or earlier) this chunk came than the previous one's audio lasted.
            transit_s = (at_s - self._last_arrival_s) - self._last_duration_s
            self._jitter_s += (abs(transit_s) - self._jitter_s) / 16
            if transit_s * 1000 > GAP_MS:
                self._gaps += 1
        self._last_arrival_s, self._last_duration_s = at_s, duration_s
        self._chunks += 1

    def take(self) -> ArrivalQuality | None:
        """What was seen since the last call (None without two chunks); the jitter estimate
        carries on, the gap count starts again."""
        if self._chunks < 2 and self._gaps == 0:
            return None
        quality = ArrivalQuality(jitter_ms=round(self._jitter_s * 1000, 1), gaps=self._gaps)
        self._gaps = 0
        self._chunks = 0
        return quality
