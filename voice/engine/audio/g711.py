"""ITU-T G.711 µ-law and A-law, vectorised with lookup tables.

Written here rather than imported: stdlib `audioop` is deprecated in 3.11 and gone in 3.13,
`audioop-lts` only installs on 3.13+, and the `g711` package (last release 2021) ships only a C
source distribution with a float32-only API. The tables are built once from the reference
algorithm of the ITU/Sun `g711.c`; encoding is then one fancy-index per call.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voice.engine.audio.pcm import require_int16_mono

_QUANT_MASK = 0x0F
_SEG_SHIFT = 4
_SEG_MASK = 0x70
_SIGN_BIT = 0x80
_ULAW_BIAS = 0x84
_ULAW_CLIP_14BIT = 8159
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((codes & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((codes & _SEG_MASK) >> _SEG_SHIFT)
    linear = np.where(codes & _SIGN_BIT, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS)
    return linear.astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (codes & _QUANT_MASK) << 4
    segment = (codes & _SEG_MASK) >> _SEG_SHIFT
    magnitude = np.where(
        segment == 0,
        mantissa + 8,
        (mantissa + 0x108) << np.maximum(segment - 1, 0),
    )
    return np.where(codes & _SIGN_BIT, magnitude, -magnitude).astype(np.int16)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm_14bit = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm_14bit < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm_14bit), _ULAW_CLIP_14BIT) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude)
    mantissa = (magnitude >> (segment + 1)) & _QUANT_MASK
    code = np.where(segment >= 8, 0x7F, (segment << _SEG_SHIFT) | mantissa)
    return (code ^ mask).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm_13bit = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm_13bit >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm_13bit >= 0, pcm_13bit, -pcm_13bit - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude)
    mantissa = (
        np.where(segment < 2, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & _QUANT_MASK
    )
    code = np.where(segment >= 8, 0x7F, (segment << _SEG_SHIFT) | mantissa)
    return (code ^ mask).astype(np.uint8)


# Encode tables are indexed by the int16 sample reinterpreted as uint16 offset by 32768.
_ULAW_TO_LINEAR = _ulaw_decode_table()
_ALAW_TO_LINEAR = _alaw_decode_table()
_LINEAR_TO_ULAW = _ulaw_encode_table()
_LINEAR_TO_ALAW = _alaw_encode_table()


def _table_index(audio: npt.NDArray[np.int16]) -> npt.NDArray[np.int32]:
    return require_int16_mono(audio).astype(np.int32) + 32768


def ulaw_encode(audio: npt.NDArray[np.int16]) -> bytes:
    """Encode int16 samples as G.711 µ-law bytes (one byte per sample)."""
    return _LINEAR_TO_ULAW[_table_index(audio)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Decode G.711 µ-law bytes into int16 samples."""
    return _ULAW_TO_LINEAR[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(audio: npt.NDArray[np.int16]) -> bytes:
    """Encode int16 samples as G.711 A-law bytes (one byte per sample)."""
    return _LINEAR_TO_ALAW[_table_index(audio)].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Decode G.711 A-law bytes into int16 samples."""
    return _ALAW_TO_LINEAR[np.frombuffer(data, dtype=np.uint8)]
