import warnings

import numpy as np
import pytest

from voice.engine.audio import g711
from voice.engine.errors import AudioFormatError

with warnings.catch_warnings():
    # The project runs on 3.11, where the deprecated stdlib codec still exists: it is an
    # independent reference implementation of G.711 to compare against, bit for bit.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
CODECS = {
    "ulaw": (g711.ulaw_encode, g711.ulaw_decode, audioop.lin2ulaw, audioop.ulaw2lin),
    "alaw": (g711.alaw_encode, g711.alaw_decode, audioop.lin2alaw, audioop.alaw2lin),
}


@pytest.mark.parametrize("law", CODECS)
def test_encoding_matches_the_reference_codec_for_every_16_bit_sample(law):
    encode, _, reference_encode, _ = CODECS[law]

    assert encode(ALL_SAMPLES) == reference_encode(ALL_SAMPLES.astype("<i2").tobytes(), 2)


@pytest.mark.parametrize("law", CODECS)
def test_decoding_matches_the_reference_codec_for_every_code(law):
    _, decode, _, reference_decode = CODECS[law]
    reference = np.frombuffer(reference_decode(ALL_CODES, 2), dtype="<i2")

    assert np.array_equal(decode(ALL_CODES), reference)


def test_known_code_points():
    assert g711.ulaw_decode(b"\xff\x7f").tolist() == [0, 0]
    assert g711.ulaw_encode(np.array([0], dtype=np.int16)) == b"\xff"
    assert g711.ulaw_decode(b"\x80\x00").tolist() == [32124, -32124]
    assert g711.alaw_decode(b"\xd5\x55").tolist() == [8, -8]
    assert g711.alaw_encode(np.array([0], dtype=np.int16)) == b"\xd5"
    assert g711.alaw_decode(b"\xaa\x2a").tolist() == [32256, -32256]


@pytest.mark.parametrize("law", CODECS)
def test_round_trip_error_stays_within_the_companding_step(law):
    encode, decode, _, _ = CODECS[law]
    decoded = decode(encode(ALL_SAMPLES)).astype(np.int64)
    original = ALL_SAMPLES.astype(np.int64)
    loudest = int(decode(ALL_CODES).max())
    in_range = np.abs(original) <= loudest

    # G.711 keeps ~4 mantissa bits: the error grows with the level, about 3 % plus a floor.
    error = np.abs(decoded - original)[in_range]
    assert np.all(error <= np.abs(original[in_range]) / 32 + 8)
    # Beyond the loudest code the codec saturates; it never wraps to the other sign.
    assert np.array_equal(decoded[~in_range], np.sign(original[~in_range]) * loudest)


def test_every_alaw_code_survives_decode_then_encode():
    assert g711.alaw_encode(g711.alaw_decode(ALL_CODES)) == ALL_CODES


def test_every_ulaw_code_but_negative_zero_survives_decode_then_encode():
    expected = bytearray(ALL_CODES)
    expected[0x7F] = 0xFF  # µ-law has two zeros; both decode to 0, which encodes as 0xFF

    assert g711.ulaw_encode(g711.ulaw_decode(ALL_CODES)) == bytes(expected)


@pytest.mark.parametrize("law", CODECS)
def test_empty_input_gives_empty_output(law):
    encode, decode, _, _ = CODECS[law]

    assert encode(np.zeros(0, dtype=np.int16)) == b""
    assert decode(b"").dtype == np.int16
    assert decode(b"").size == 0


@pytest.mark.parametrize("law", CODECS)
def test_encoding_float_audio_is_an_audio_format_error(law):
    encode = CODECS[law][0]

    with pytest.raises(AudioFormatError):
        encode(np.zeros(8, dtype=np.float64))
