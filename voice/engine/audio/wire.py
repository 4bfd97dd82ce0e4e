"""The three wire encodings (pcm16, G.711 µ-law, G.711 A-law) and their byte arithmetic."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.audio import g711
from voice.engine.audio.pcm import pcm16_from_bytes, pcm16_to_bytes
from voice.engine.config import SUPPORTED_RATES_HZ, AudioFormat
from voice.engine.errors import AudioFormatError

WIRE_ENCODINGS = ("pcm16", "pcmu", "pcma")


def validate_wire_format(fmt: AudioFormat) -> AudioFormat:
    """Return `fmt` if clients may use it, else raise AudioFormatError."""
    if fmt.encoding not in WIRE_ENCODINGS:
        raise AudioFormatError(
            f"unsupported audio encoding {fmt.encoding!r}; use one of {', '.join(WIRE_ENCODINGS)}"
        )
    if fmt.sample_rate_hz not in SUPPORTED_RATES_HZ:
        rates = ", ".join(str(rate) for rate in SUPPORTED_RATES_HZ)
        raise AudioFormatError(
            f"unsupported sample rate {fmt.sample_rate_hz!r} Hz; use one of {rates}"
        )
    return fmt


def wire_to_pcm16(data: bytes | bytearray | memoryview, fmt: AudioFormat) -> npt.NDArray[np.int16]:
    """Decode wire bytes into int16 samples at the format's own rate."""
    if fmt.encoding == "pcmu":
        return g711.ulaw_decode(data)
    if fmt.encoding == "pcma":
        return g711.alaw_decode(data)
    return pcm16_from_bytes(data)


def pcm16_to_wire(audio: npt.NDArray[np.int16], fmt: AudioFormat) -> bytes:
    """Encode int16 samples (already at the format's rate) as wire bytes."""
    if fmt.encoding == "pcmu":
        return g711.ulaw_encode(audio)
    if fmt.encoding == "pcma":
        return g711.alaw_encode(audio)
    return pcm16_to_bytes(audio)


def wire_duration_ms(byte_count: int, fmt: AudioFormat) -> float:
    """How many milliseconds of audio `byte_count` wire bytes in `fmt` hold."""
    return byte_count / fmt.bytes_per_sample * 1000 / fmt.sample_rate_hz


def wire_bytes_for_ms(duration_ms: int, fmt: AudioFormat) -> int:
    """How many wire bytes hold `duration_ms` of audio in `fmt` (rounded down to whole samples)."""
    return duration_ms * fmt.sample_rate_hz // 1000 * fmt.bytes_per_sample
