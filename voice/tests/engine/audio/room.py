"""A room between the client's speaker and its microphone: delay, attenuation, reverberation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.config import PIPELINE_RATE_HZ

Audio = npt.NDArray[np.int16]


def room_response(rt60_s: float = 0.3, length_s: float = 0.25, seed: int = 3) -> np.ndarray:
    """A room-like impulse response: a direct path, then exponentially decaying reflections
    (energy down 60 dB after `rt60_s`), with unit energy."""
    rng = np.random.default_rng(seed)
    times_s = np.arange(int(length_s * PIPELINE_RATE_HZ)) / PIPELINE_RATE_HZ
    response = rng.normal(0.0, 1.0, len(times_s)) * np.exp(-6.9 * times_s / rt60_s)
    response[0] = 4.0
    return response / float(np.sqrt(np.sum(response**2)))


def echo_of(played: Audio, *, delay_ms: int, attenuation_db: float, rate_hz: int) -> Audio:
    """What a microphone hears of `played` through the room, as int16 at `rate_hz`."""
    response = room_response()
    if rate_hz != PIPELINE_RATE_HZ:
        response = np.interp(
            np.arange(int(len(response) * rate_hz / PIPELINE_RATE_HZ)) * PIPELINE_RATE_HZ / rate_hz,
            np.arange(len(response)),
            response,
        )
        response /= np.sqrt(np.sum(response**2))
    reverberant = np.convolve(played.astype(np.float64), response)[: len(played)]
    delayed = np.concatenate([np.zeros(rate_hz * delay_ms // 1000), reverberant])[: len(played)]
    return np.clip(delayed * 10 ** (-attenuation_db / 20), -32768, 32767).astype(np.int16)


def speech_onset_ms(speech: Audio, rate_hz: int, *, below_peak_db: float = 25.0) -> int:
    """Where words begin: the first 10 ms whose energy is within `below_peak_db` of the
    loudest (a breath or hiss before the first word does not count)."""
    hop = rate_hz // 100
    hops = speech[: len(speech) - len(speech) % hop].astype(np.float64).reshape(-1, hop)
    energy_db = 10 * np.log10((hops**2).mean(axis=1) + 1.0)
    first = int(np.argmax(energy_db >= energy_db.max() - below_peak_db))
    return first * 10


def mixed(base: Audio, extra: Audio, at: int) -> Audio:
    """`base` with `extra` added from sample `at` on (clipped to int16)."""
    result = base.astype(np.int32)
    end = min(len(base), at + len(extra))
    result[at:end] += extra[: end - at]
    return np.clip(result, -32768, 32767).astype(np.int16)
