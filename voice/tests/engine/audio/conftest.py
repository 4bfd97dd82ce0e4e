from pathlib import Path

import numpy as np
import pytest

from voice.engine.audio.files import read_audio_file

REPO_ROOT = Path(__file__).resolve().parents[4]
AUDIO_DIR = REPO_ROOT / "testdata" / "audio"


@pytest.fixture(scope="session")
def lecture_16k() -> np.ndarray:
    """The first 5 s of lecture60.wav: real speech at the pipeline rate."""
    audio, rate_hz = read_audio_file(AUDIO_DIR / "lecture60.wav")
    assert rate_hz == 16_000
    return audio[: 5 * rate_hz]
