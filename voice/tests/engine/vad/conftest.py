from pathlib import Path

import numpy as np
import pytest

from voice.engine.audio.files import read_audio_file
from voice.engine.audio.resample import resample

REPO_ROOT = Path(__file__).resolve().parents[4]
AUDIO_DIR = REPO_ROOT / "testdata" / "audio"


def load_16k(name: str) -> np.ndarray:
    audio, rate_hz = read_audio_file(AUDIO_DIR / name)
    return resample(audio, rate_hz, 16_000)


@pytest.fixture(scope="session")
def lecture() -> np.ndarray:
    """lecture60.wav: 60 s of a lecture with several pauses, 16 kHz."""
    return load_16k("lecture60.wav")


@pytest.fixture(scope="session")
def english() -> np.ndarray:
    """english.wav: "One, two, three." at 16 kHz."""
    return load_16k("english.wav")
