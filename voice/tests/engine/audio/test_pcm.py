import numpy as np
import pytest

from voice.engine.audio.pcm import (
    float_to_int16,
    int16_to_float32,
    pcm16_from_bytes,
    pcm16_to_bytes,
    require_int16_mono,
)
from voice.engine.errors import AudioFormatError


def test_bytes_are_read_as_little_endian_samples():
    audio = pcm16_from_bytes(b"\x01\x00\xff\x7f\x00\x80\xff\xff")

    assert audio.dtype == np.int16
    assert audio.tolist() == [1, 32767, -32768, -1]


def test_decoded_samples_are_a_writable_copy():
    data = bytearray(b"\x01\x00")
    audio = pcm16_from_bytes(data)
    audio[0] = 5
    data[0] = 9

    assert audio.tolist() == [5]


def test_samples_round_trip_through_bytes():
    audio = np.arange(-32768, 32768, 7, dtype=np.int16)

    assert np.array_equal(pcm16_from_bytes(pcm16_to_bytes(audio)), audio)
    assert pcm16_to_bytes(np.array([1, -2], dtype=np.int16)) == b"\x01\x00\xfe\xff"


def test_empty_bytes_give_empty_audio():
    assert pcm16_from_bytes(b"").size == 0
    assert pcm16_to_bytes(np.zeros(0, dtype=np.int16)) == b""


@pytest.mark.parametrize("length", [1, 3, 641])
def test_odd_byte_count_is_an_audio_format_error(length):
    with pytest.raises(AudioFormatError, match="2-byte samples"):
        pcm16_from_bytes(b"\x00" * length)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(4, dtype=np.float32),
        np.zeros((2, 4), dtype=np.int16),
        np.zeros(4, dtype=np.int32),
        [0, 1, 2],
    ],
)
def test_non_int16_mono_input_is_an_audio_format_error(bad):
    with pytest.raises(AudioFormatError, match="1-D int16"):
        pcm16_to_bytes(bad)
    with pytest.raises(AudioFormatError):
        require_int16_mono(bad)


def test_float_audio_is_clipped_rather_than_wrapped():
    audio = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 1e9], dtype=np.float32)

    assert float_to_int16(audio).tolist() == [-32768, -32768, -16384, 0, 16384, 32767, 32767, 32767]


def test_int16_survives_a_float32_round_trip_exactly():
    audio = np.arange(-32768, 32768, dtype=np.int16)
    as_float = int16_to_float32(audio)

    assert as_float.dtype == np.float32
    assert as_float.min() == -1.0
    assert as_float.max() < 1.0
    assert np.array_equal(float_to_int16(as_float), audio)
