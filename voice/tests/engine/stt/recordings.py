"""Real recordings and transcript comparison shared by the local speech-model tests."""

from __future__ import annotations

import re
from pathlib import Path

import jiwer
import numpy as np
import numpy.typing as npt
import soundfile

from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ

REPO_ROOT = Path(__file__).resolve().parents[4]
TEST_AUDIO = REPO_ROOT / "testdata" / "audio"

JFK_TRANSCRIPT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)

_NUMBER_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four",
    "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}  # fmt: skip


def recording_16k(name: str) -> npt.NDArray[np.int16]:
    """A recording from testdata/audio as 16 kHz mono int16, whatever its file format."""
    path = TEST_AUDIO / name
    assert path.is_file(), f"missing real recording {path} (see testdata/audio/README.md)"
    samples, rate_hz = soundfile.read(path, dtype="int16", always_2d=True)
    mono = samples.mean(axis=1).astype(np.int16)
    return resample(mono, rate_hz, PIPELINE_RATE_HZ)


def normalised_words(text: str) -> str:
    """Lower case, no punctuation, small numbers spelled out ("1, 2" -> "one two")."""
    words = re.sub(r"[^\w' ]", " ", text.lower()).split()
    return " ".join(_NUMBER_WORDS.get(word, word) for word in words)


def word_error_rate(reference: str, hypothesis: str) -> float:
    hypothesis_words = normalised_words(hypothesis)
    if not hypothesis_words:
        return 1.0
    return float(jiwer.wer(normalised_words(reference), hypothesis_words))
