import pytest

from voice.engine.audio.wire import (
    pcm16_to_wire,
    validate_wire_format,
    wire_bytes_for_ms,
    wire_duration_ms,
    wire_to_pcm16,
)
from voice.engine.config import AudioFormat
from voice.engine.errors import AudioFormatError


@pytest.mark.parametrize(
    ("fmt", "byte_count", "duration_ms"),
    [
        (AudioFormat("pcm16", 24_000), 48_000, 1000.0),
        (AudioFormat("pcm16", 24_000), 960, 20.0),
        (AudioFormat("pcm16", 16_000), 320, 10.0),
        (AudioFormat("pcmu", 8_000), 160, 20.0),
        (AudioFormat("pcma", 8_000), 8_000, 1000.0),
        (AudioFormat("pcm16", 48_000), 0, 0.0),
    ],
)
def test_wire_duration_counts_samples_per_format(fmt, byte_count, duration_ms):
    assert wire_duration_ms(byte_count, fmt) == duration_ms
    assert wire_bytes_for_ms(int(duration_ms), fmt) == byte_count


@pytest.mark.parametrize("encoding", ["pcm16", "pcmu", "pcma"])
def test_wire_bytes_decode_to_one_sample_per_wire_sample(encoding, lecture_16k):
    fmt = AudioFormat(encoding, 16_000)
    data = pcm16_to_wire(lecture_16k, fmt)

    assert len(data) == lecture_16k.size * fmt.bytes_per_sample
    assert wire_to_pcm16(data, fmt).size == lecture_16k.size


@pytest.mark.parametrize(
    "fmt",
    [AudioFormat("opus", 24_000), AudioFormat("pcm16", 44_100), AudioFormat("pcmu", 0)],  # type: ignore[arg-type]
)
def test_formats_clients_may_not_use_are_refused(fmt):
    with pytest.raises(AudioFormatError, match="unsupported"):
        validate_wire_format(fmt)
