"""Sample-rate conversion of int16 mono audio with soxr, one-shot or streaming."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from voice.engine.audio.pcm import float_to_int16, int16_to_float32, require_int16_mono
from voice.engine.config import SUPPORTED_RATES_HZ
from voice.engine.errors import AudioFormatError

# Wire rates, Piper's 22.05 kHz voices and CD-rate files; streams are built per session, so an
# unexpected rate is a bug or a hostile client, not a format to support.
STREAM_RATES_HZ = frozenset((*SUPPORTED_RATES_HZ, 22_050, 44_100))
# One-shot conversion serves files, which come at any rate within reason.
_MAX_FILE_RATE_HZ = 384_000
# soxr's "high quality": transparent for speech at a fraction of VHQ's cost.
_QUALITY = "HQ"
# Work in float32: soxr dithers int16 output with a random seed, which would make the same
# input give different samples on every run.
_WORK_DTYPE = "float32"


def resample(audio: npt.NDArray[np.int16], from_hz: int, to_hz: int) -> npt.NDArray[np.int16]:
    """Convert a whole int16 mono signal from `from_hz` to `to_hz`.

    Raises:
        AudioFormatError: a rate is not a positive integer up to 384 kHz, or the audio is not
            1-D int16.
    """
    require_int16_mono(audio)
    for rate_hz in (from_hz, to_hz):
        if not isinstance(rate_hz, int) or not 0 < rate_hz <= _MAX_FILE_RATE_HZ:
            raise AudioFormatError(f"unsupported sample rate {rate_hz!r} Hz")
    if from_hz == to_hz or audio.size == 0:
        return audio.copy()
    converted = soxr.resample(int16_to_float32(audio), from_hz, to_hz, quality=_QUALITY)
    return float_to_int16(converted)


class StreamResampler:
    """Resamples an int16 mono stream chunk by chunk, keeping filter state between chunks.

    Chunked output matches `resample` on the whole signal (to an LSB of float rounding) once
    the stream is ended with `last=True`; until then soxr holds back its filter delay (a few ms).
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        for rate_hz in (from_hz, to_hz):
            if rate_hz not in STREAM_RATES_HZ:
                supported = ", ".join(str(rate) for rate in sorted(STREAM_RATES_HZ))
                raise AudioFormatError(
                    f"unsupported sample rate {rate_hz!r} Hz for streaming; use one of {supported}"
                )
        self.from_hz = from_hz
        self.to_hz = to_hz
        self._stream: soxr.ResampleStream | None = None
        if from_hz != to_hz:
            self._stream = soxr.ResampleStream(
                from_hz, to_hz, 1, dtype=_WORK_DTYPE, quality=_QUALITY
            )

    def process(self, chunk: npt.NDArray[np.int16], last: bool = False) -> npt.NDArray[np.int16]:
        """Feed one chunk; return what is ready. `last=True` drains the filter and resets."""
        require_int16_mono(chunk)
        if self._stream is None:
            return chunk.copy()
        converted = self._stream.resample_chunk(int16_to_float32(chunk), last=last)
        if last:
            self._stream.clear()
        return float_to_int16(converted)

    def reset(self) -> None:
        """Drop buffered input and filter state (the next chunk starts a new stream)."""
        if self._stream is not None:
            self._stream.clear()
