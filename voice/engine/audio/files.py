"""Reading and writing audio files (WAV, FLAC, MP3, OGG) as int16 mono.

These calls block on disk and decoding: from a coroutine, run them via `run_cpu`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from voice.engine.audio.pcm import require_int16_mono
from voice.engine.errors import AudioFormatError

logger = logging.getLogger(__name__)


def read_audio_file(path: str | Path) -> tuple[npt.NDArray[np.int16], int]:
    """Read an audio file as int16 mono (channels averaged) and its sample rate in Hz.

    Raises:
        AudioFormatError: the file is missing, unreadable or not in a format libsndfile knows.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"audio file not found: {path}")
    try:
        frames, rate_hz = soundfile.read(path, dtype="int16", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioFormatError(f"cannot read audio file {path.name}: {exc}") from exc
    # Average in int32: summing two loud int16 channels would wrap.
    mono = frames.astype(np.int32).mean(axis=1)
    return np.rint(mono).astype(np.int16), int(rate_hz)


def write_wav(path: str | Path, audio: npt.NDArray[np.int16], rate_hz: int) -> None:
    """Write int16 mono audio as a PCM16 WAV file."""
    require_int16_mono(audio)
    if rate_hz <= 0:
        raise AudioFormatError(f"sample rate must be positive; got {rate_hz}")
    soundfile.write(Path(path), audio, rate_hz, subtype="PCM_16", format="WAV")
