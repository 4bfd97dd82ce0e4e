import numpy as np
import pytest

from voice.engine.audio.decoder import InputAudioDecoder
from voice.engine.audio.resample import resample
from voice.engine.audio.wire import pcm16_to_wire
from voice.engine.config import AudioFormat
from voice.engine.errors import AudioFormatError

FORMATS = [
    AudioFormat(encoding, rate_hz)
    for encoding in ("pcm16", "pcmu", "pcma")
    for rate_hz in (8_000, 16_000, 24_000, 48_000)
]


def snr_db(signal, reference):
    noise_energy = np.sum((signal.astype(np.float64) - reference) ** 2)
    if noise_energy == 0:
        return np.inf
    return 10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise_energy)


def decode_in_chunks(decoder, data, chunk_bytes):
    parts = [
        decoder.decode(data[start : start + chunk_bytes])
        for start in range(0, len(data), chunk_bytes)
    ]
    parts.append(decoder.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.encoding}@{f.sample_rate_hz}")
def test_wire_audio_decodes_to_the_same_speech_at_16k(fmt, lecture_16k):
    at_wire_rate = resample(lecture_16k, 16_000, fmt.sample_rate_hz)
    # What a perfect channel delivers: the speech band-limited by the wire rate.
    reference = resample(at_wire_rate, fmt.sample_rate_hz, 16_000)
    data = pcm16_to_wire(at_wire_rate, fmt)
    # Odd-sized chunks (whole samples) as a real client's network writes would give.
    chunk_bytes = 331 * fmt.bytes_per_sample

    decoded = decode_in_chunks(InputAudioDecoder(fmt), data, chunk_bytes)

    assert decoded.dtype == np.int16
    assert decoded.size == reference.size == lecture_16k.size
    # PCM16 is exact up to rounding; G.711 companding costs ~38 dB of SNR on speech.
    minimum_snr_db = 60 if fmt.encoding == "pcm16" else 30
    assert snr_db(decoded, reference) > minimum_snr_db


def test_decoding_is_independent_of_how_the_stream_was_split(lecture_16k):
    fmt = AudioFormat("pcm16", 24_000)
    data = pcm16_to_wire(resample(lecture_16k[:16_000], 16_000, 24_000), fmt)

    small = decode_in_chunks(InputAudioDecoder(fmt), data, 2)
    large = decode_in_chunks(InputAudioDecoder(fmt), data, 9_600)

    assert np.array_equal(small, large)


def test_odd_length_pcm16_is_an_audio_format_error_and_the_decoder_goes_on():
    decoder = InputAudioDecoder(AudioFormat("pcm16", 16_000))

    with pytest.raises(AudioFormatError, match="2-byte samples"):
        decoder.decode(b"\x00\x01\x02")
    assert decoder.decode(b"\x01\x00\x02\x00").tolist() == [1, 2]


def test_odd_length_g711_is_fine_because_samples_are_one_byte():
    decoder = InputAudioDecoder(AudioFormat("pcmu", 16_000))

    assert decoder.decode(b"\xff\xff\xff").tolist() == [0, 0, 0]


@pytest.mark.parametrize("rate_hz", [0, 11_025, 22_050, 44_100, 96_000, -8_000])
def test_unsupported_input_rates_are_refused(rate_hz):
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        InputAudioDecoder(AudioFormat("pcm16", rate_hz))


def test_unsupported_encodings_are_refused():
    with pytest.raises(AudioFormatError, match="unsupported audio encoding"):
        InputAudioDecoder(AudioFormat("g722", 16_000))  # type: ignore[arg-type]


def test_reset_forgets_audio_held_by_the_resampler(lecture_16k):
    fmt = AudioFormat("pcm16", 48_000)
    data = pcm16_to_wire(resample(lecture_16k, 16_000, 48_000), fmt)
    fresh = decode_in_chunks(InputAudioDecoder(fmt), data, 1920)
    decoder = InputAudioDecoder(fmt)
    decoder.decode(b"\xff\x7f" * 1000)

    decoder.reset()

    assert np.array_equal(decode_in_chunks(decoder, data, 1920), fresh)
