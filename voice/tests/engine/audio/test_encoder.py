import numpy as np
import pytest

from voice.engine.audio.encoder import OutputAudioEncoder
from voice.engine.audio.resample import resample
from voice.engine.audio.wire import wire_duration_ms, wire_to_pcm16
from voice.engine.config import AudioFormat
from voice.engine.errors import AudioFormatError

FORMATS = [
    AudioFormat(encoding, rate_hz)
    for encoding in ("pcm16", "pcmu", "pcma")
    for rate_hz in (8_000, 16_000, 24_000, 48_000)
]
PIPER_RATE_HZ = 22_050


@pytest.fixture(scope="module")
def tts_like_audio(lecture_16k):
    """Speech at Piper's rate, as a TTS voice would produce it."""
    return resample(lecture_16k[:32_000], 16_000, PIPER_RATE_HZ)


def encode_in_chunks(encoder, audio, chunk_samples):
    frames = []
    for start in range(0, audio.size, chunk_samples):
        frames.extend(encoder.encode(audio[start : start + chunk_samples]))
    return frames, encoder.flush()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.encoding}@{f.sample_rate_hz}")
def test_output_is_whole_frames_of_the_wire_format(fmt, tts_like_audio):
    encoder = OutputAudioEncoder(fmt, source_rate_hz=PIPER_RATE_HZ, frame_ms=20)

    frames, tail = encode_in_chunks(encoder, tts_like_audio, 1_103)

    frame_bytes = fmt.sample_rate_hz // 50 * fmt.bytes_per_sample
    assert all(len(frame) == frame_bytes for frame in frames + tail)
    assert all(wire_duration_ms(len(frame), fmt) == 20 for frame in frames)
    expected_samples = round(tts_like_audio.size * fmt.sample_rate_hz / PIPER_RATE_HZ)
    assert len(frames + tail) == -(-expected_samples // (frame_bytes // fmt.bytes_per_sample))
    # Only the resampler's held-back delay and the padded partial frame wait for flush.
    assert len(tail) * 20 <= 60


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"{f.encoding}@{f.sample_rate_hz}")
def test_frames_decode_back_to_the_synthesised_speech(fmt, tts_like_audio):
    encoder = OutputAudioEncoder(fmt, source_rate_hz=PIPER_RATE_HZ)
    frames, tail = encode_in_chunks(encoder, tts_like_audio, 512)
    reference = resample(tts_like_audio, PIPER_RATE_HZ, fmt.sample_rate_hz)

    decoded = wire_to_pcm16(b"".join(frames + tail), fmt)

    assert np.array_equal(decoded[reference.size :], np.zeros(decoded.size - reference.size))
    error = decoded[: reference.size].astype(np.float64) - reference
    snr_db = 10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(np.sum(error**2), 1))
    assert snr_db > (90 if fmt.encoding == "pcm16" else 30)


def test_audio_shorter_than_a_frame_waits_for_more():
    encoder = OutputAudioEncoder(AudioFormat("pcm16", 24_000), source_rate_hz=24_000, frame_ms=20)

    assert encoder.encode(np.ones(479, dtype=np.int16)) == []
    assert encoder.buffered_ms == pytest.approx(479 / 24)
    frames = encoder.encode(np.ones(2, dtype=np.int16))
    assert len(frames) == 1
    assert encoder.buffered_ms == pytest.approx(1 / 24)


def test_flush_pads_the_last_frame_with_silence():
    encoder = OutputAudioEncoder(AudioFormat("pcm16", 16_000), source_rate_hz=16_000, frame_ms=10)
    encoder.encode(np.full(100, 7, dtype=np.int16))

    (frame,) = encoder.flush()

    samples = wire_to_pcm16(frame, AudioFormat("pcm16", 16_000))
    assert samples[:100].tolist() == [7] * 100
    assert samples[100:].tolist() == [0] * 60
    assert encoder.flush() == []


def test_reset_drops_buffered_audio_on_barge_in(tts_like_audio):
    encoder = OutputAudioEncoder(AudioFormat("pcmu", 8_000), source_rate_hz=PIPER_RATE_HZ)
    encoder.encode(tts_like_audio[:1_000])

    encoder.reset()

    assert encoder.buffered_ms == 0
    assert encoder.flush() == []


@pytest.mark.parametrize("frame_ms", [0, 3, -20, 5_000])
def test_unreasonable_frame_lengths_are_refused(frame_ms):
    with pytest.raises(AudioFormatError, match="frame_ms"):
        OutputAudioEncoder(AudioFormat(), source_rate_hz=24_000, frame_ms=frame_ms)


@pytest.mark.parametrize("source_rate_hz", [11_025, 0, 32_000])
def test_unsupported_source_rates_are_refused(source_rate_hz):
    with pytest.raises(AudioFormatError, match="unsupported sample rate"):
        OutputAudioEncoder(AudioFormat(), source_rate_hz=source_rate_hz)


def test_float_audio_is_refused():
    encoder = OutputAudioEncoder(AudioFormat(), source_rate_hz=24_000)

    with pytest.raises(AudioFormatError):
        encoder.encode(np.zeros(480, dtype=np.float32))
