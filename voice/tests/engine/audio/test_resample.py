import numpy as np
import pytest

from voice.engine.audio.resample import STREAM_RATES_HZ, StreamResampler, resample
from voice.engine.errors import AudioFormatError

RATE_PAIRS = [
    (24_000, 16_000),
    (48_000, 16_000),
    (8_000, 16_000),
    (22_050, 24_000),
    (22_050, 8_000),
    (16_000, 48_000),
    (44_100, 16_000),
]


def stream_in_chunks(resampler, audio, chunk_samples):
    parts = [
        resampler.process(audio[start : start + chunk_samples])
        for start in range(0, audio.size, chunk_samples)
    ]
    parts.append(resampler.process(np.zeros(0, dtype=np.int16), last=True))
    return np.concatenate(parts)


def at_rate(audio_16k, rate_hz):
    return resample(audio_16k, 16_000, rate_hz)


@pytest.mark.parametrize(("from_hz", "to_hz"), RATE_PAIRS)
@pytest.mark.parametrize("chunk_samples", [7, 4000])
def test_streaming_output_equals_one_shot_output(lecture_16k, from_hz, to_hz, chunk_samples):
    audio = at_rate(lecture_16k[:32_000], from_hz)
    one_shot = resample(audio, from_hz, to_hz)

    streamed = stream_in_chunks(StreamResampler(from_hz, to_hz), audio, chunk_samples)

    assert streamed.dtype == np.int16
    assert streamed.size == one_shot.size == round(audio.size * to_hz / from_hz)
    assert np.array_equal(streamed, one_shot)


def test_a_drained_stream_starts_afresh(lecture_16k):
    audio = at_rate(lecture_16k[:16_000], 24_000)
    resampler = StreamResampler(24_000, 16_000)

    first = stream_in_chunks(resampler, audio, 480)
    second = stream_in_chunks(resampler, audio, 480)

    assert np.array_equal(first, second)


def test_reset_drops_buffered_input(lecture_16k):
    audio = at_rate(lecture_16k[:16_000], 48_000)
    fresh = stream_in_chunks(StreamResampler(48_000, 16_000), audio, 960)
    resampler = StreamResampler(48_000, 16_000)
    resampler.process(np.full(1234, 20_000, dtype=np.int16))

    resampler.reset()

    assert np.array_equal(stream_in_chunks(resampler, audio, 960), fresh)


def test_equal_rates_pass_audio_through_unchanged(lecture_16k):
    resampler = StreamResampler(16_000, 16_000)

    assert np.array_equal(resampler.process(lecture_16k[:777]), lecture_16k[:777])
    assert np.array_equal(resample(lecture_16k, 16_000, 16_000), lecture_16k)


def test_resampling_keeps_a_tone_at_its_frequency():
    tone_hz = 440
    audio = (np.sin(2 * np.pi * tone_hz * np.arange(24_000) / 24_000) * 10_000).astype(np.int16)

    converted = resample(audio, 24_000, 16_000)

    spectrum = np.abs(np.fft.rfft(converted))
    peak_hz = np.argmax(spectrum) * 16_000 / converted.size
    assert abs(peak_hz - tone_hz) <= 1
    assert 9_000 <= np.abs(converted).max() <= 10_500


@pytest.mark.parametrize("rate_hz", [0, -16_000, 11_025, 32_000, 96_000, 16_000.5])
def test_streams_refuse_rates_outside_the_supported_set(rate_hz):
    assert rate_hz not in STREAM_RATES_HZ
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        StreamResampler(rate_hz, 16_000)
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        StreamResampler(16_000, rate_hz)


def test_one_shot_accepts_file_rates_but_refuses_nonsense():
    audio = np.zeros(11_025, dtype=np.int16)

    assert resample(audio, 11_025, 16_000).size == 16_000
    for rate_hz in (0, -1, 10**9):
        with pytest.raises(AudioFormatError):
            resample(audio, rate_hz, 16_000)


def test_float_chunks_are_refused():
    with pytest.raises(AudioFormatError):
        StreamResampler(24_000, 16_000).process(np.zeros(100, dtype=np.float32))
