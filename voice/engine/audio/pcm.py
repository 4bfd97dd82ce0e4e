"""PCM16 little-endian bytes and sample arrays, and float audio converted without wraparound."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.errors import AudioFormatError

_INT16_SCALE = 32768.0


def pcm16_from_bytes(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Decode little-endian PCM16 bytes into a new (writable, native-order) int16 array.

    Raises:
        AudioFormatError: the byte count is odd, so the data cannot be whole 16-bit samples.
    """
    if len(data) % 2:
        raise AudioFormatError(
            f"PCM16 audio must be a whole number of 2-byte samples; got {len(data)} bytes"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def pcm16_to_bytes(audio: npt.NDArray[np.int16]) -> bytes:
    """Encode int16 samples as little-endian PCM16 bytes."""
    return require_int16_mono(audio).astype("<i2", copy=False).tobytes()


def float_to_int16(audio: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    """Convert float audio in [-1, 1] to int16, clipping anything louder instead of wrapping."""
    scaled = np.rint(np.asarray(audio, dtype=np.float64) * _INT16_SCALE)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def int16_to_float32(audio: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """Convert int16 samples to float32 in [-1, 1)."""
    return audio.astype(np.float32) / np.float32(_INT16_SCALE)


def require_int16_mono(audio: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Return `audio` unchanged if it is a 1-D int16 array, else raise AudioFormatError."""
    if not isinstance(audio, np.ndarray) or audio.dtype != np.int16 or audio.ndim != 1:
        shape = getattr(audio, "shape", None)
        dtype = getattr(audio, "dtype", type(audio).__name__)
        raise AudioFormatError(f"expected 1-D int16 mono audio; got dtype {dtype} shape {shape}")
    return audio
