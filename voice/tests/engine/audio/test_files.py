import numpy as np
import pytest
import soundfile

from voice.engine.audio.files import read_audio_file, write_wav
from voice.engine.errors import AudioFormatError
from voice.tests.engine.audio.conftest import AUDIO_DIR


def test_reads_a_mono_wav_at_its_own_rate():
    audio, rate_hz = read_audio_file(AUDIO_DIR / "english.wav")

    assert rate_hz == 44_100
    assert audio.dtype == np.int16
    assert audio.ndim == 1
    assert audio.size / rate_hz == pytest.approx(2.74, abs=0.02)
    assert np.abs(audio).max() > 10_000


def test_reads_a_stereo_flac_as_mono():
    audio, rate_hz = read_audio_file(AUDIO_DIR / "jfk.flac")
    stereo, _ = soundfile.read(AUDIO_DIR / "jfk.flac", dtype="int16")

    assert stereo.ndim == 2
    assert rate_hz == 44_100
    assert audio.shape == (stereo.shape[0],)
    assert audio.size / rate_hz == pytest.approx(11.0, abs=0.1)


def test_downmix_averages_channels_without_wrapping(tmp_path):
    left = np.array([32767, 1000, -32768, 0], dtype=np.int16)
    right = np.array([32767, -1000, -32768, 101], dtype=np.int16)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 8_000, "PCM_16")

    audio, _ = read_audio_file(tmp_path / "stereo.wav")

    assert audio.tolist() == [32767, 0, -32768, 50]


def test_reads_mp3_with_the_bundled_libsndfile(tmp_path):
    tone = (np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000) * 8_000).astype(np.int16)
    soundfile.write(tmp_path / "tone.mp3", tone, 16_000, format="MP3")

    audio, rate_hz = read_audio_file(tmp_path / "tone.mp3")

    assert rate_hz == 16_000
    assert audio.size == pytest.approx(16_000, abs=1_200)
    peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * rate_hz / audio.size
    assert peak_hz == pytest.approx(440, abs=3)


def test_write_wav_round_trips_exactly(tmp_path):
    audio = np.arange(-32768, 32768, 13, dtype=np.int16)

    write_wav(tmp_path / "out.wav", audio, 24_000)

    assert soundfile.info(tmp_path / "out.wav").subtype == "PCM_16"
    read_back, rate_hz = read_audio_file(tmp_path / "out.wav")
    assert rate_hz == 24_000
    assert np.array_equal(read_back, audio)


def test_missing_file_is_an_audio_format_error(tmp_path):
    with pytest.raises(AudioFormatError, match="not found"):
        read_audio_file(tmp_path / "nope.wav")
    with pytest.raises(AudioFormatError, match="not found"):
        read_audio_file(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", bytes(range(256)) * 40, b"ID3\x04" + b"\xff" * 5000],
)
def test_garbage_is_an_audio_format_error(tmp_path, content):
    path = tmp_path / "garbage.wav"
    path.write_bytes(content)

    with pytest.raises(AudioFormatError, match="cannot read audio file"):
        read_audio_file(path)


def test_writing_float_audio_is_refused(tmp_path):
    with pytest.raises(AudioFormatError):
        write_wav(tmp_path / "x.wav", np.zeros(10, dtype=np.float32), 16_000)
