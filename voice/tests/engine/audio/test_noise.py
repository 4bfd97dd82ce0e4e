"""Noise suppression and gain (voice/engine/audio/noise.py) on a real recording in white noise."""

from __future__ import annotations

import numpy as np
import pytest

from voice.engine.audio.noise import FRAME_SAMPLES, NoiseSuppressor
from voice.engine.config import PIPELINE_RATE_HZ
from voice.tests.engine.stt.recordings import recording_16k


def _db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1.0))


@pytest.fixture(scope="module")
def noisy_speech() -> tuple[np.ndarray, np.ndarray]:
    """One second of noise alone, then english.wav in the same noise (5 dB SNR)."""
    speech = recording_16k("english.wav")
    rng = np.random.default_rng(5)
    noise = rng.normal(0.0, 1.0, PIPELINE_RATE_HZ + len(speech))
    level = np.sqrt(np.mean(speech.astype(np.float64) ** 2) / 10 ** (5 / 10))
    clean = np.concatenate([np.zeros(PIPELINE_RATE_HZ), speech]).astype(np.float64)
    noisy = np.clip(clean + noise * level, -32768, 32767).astype(np.int16)
    return noisy, clean.astype(np.int16)


@pytest.mark.parametrize("mode", ["near_field", "far_field"])
def test_noise_is_suppressed_and_speech_kept(noisy_speech, mode):
    noisy, _clean = noisy_speech
    out = NoiseSuppressor(mode).process(noisy)

    noise_only = slice(PIPELINE_RATE_HZ // 2, PIPELINE_RATE_HZ)  # after the suppressor adapts
    speech = slice(PIPELINE_RATE_HZ, len(out))
    assert _db(noisy[noise_only]) - _db(out[noise_only]) > 10
    # Speech stands out from what is left of the noise far more than before.
    before = _db(noisy[speech]) - _db(noisy[noise_only])
    after = _db(out[speech]) - _db(out[noise_only])
    assert after > before + 8


def test_chunks_of_any_size_give_the_same_audio_as_one_block(noisy_speech):
    noisy, _clean = noisy_speech
    whole = NoiseSuppressor("near_field").process(noisy)
    chunked_suppressor = NoiseSuppressor("near_field")
    sizes = [1, 159, 160, 161, 480, 7, 1_000]
    parts, start, index = [], 0, 0
    while start < len(noisy):
        size = sizes[index % len(sizes)]
        parts.append(chunked_suppressor.process(noisy[start : start + size]))
        start, index = start + size, index + 1

    chunked = np.concatenate(parts)
    usable = len(noisy) - len(noisy) % FRAME_SAMPLES
    assert len(chunked) == len(whole) == usable
    np.testing.assert_array_equal(chunked, whole)
