import numpy as np
import pytest
from faster_whisper.vad import SileroVADModel

from voice.engine.errors import AudioFormatError
from voice.engine.vad.silero import CHUNK_SAMPLES, SileroVad, silero_model_path


def chunks(audio):
    usable = audio.size - audio.size % CHUNK_SAMPLES
    return audio[:usable].reshape(-1, CHUNK_SAMPLES)


def probabilities(vad, audio):
    return np.array([vad.speech_probability(chunk) for chunk in chunks(audio)])


def test_the_model_ships_with_faster_whisper():
    assert silero_model_path().is_file()


def test_streaming_matches_faster_whispers_batch_implementation(lecture):
    audio = lecture[: 20 * 16_000]
    reference = SileroVADModel(str(silero_model_path()))(
        chunks(audio).reshape(-1).astype(np.float32) / 32768
    ).reshape(-1)

    streamed = probabilities(SileroVad(), audio)

    assert streamed.shape == reference.shape
    assert np.abs(streamed - reference).max() < 0.01


def test_speech_is_probable_and_digital_silence_is_not(english):
    speech = probabilities(SileroVad(), english)
    silence = probabilities(SileroVad(), np.zeros(16_000, np.int16))

    assert speech.max() > 0.9
    assert silence.max() < 0.1


def test_reset_forgets_the_recurrent_state(english):
    vad = SileroVad()
    first = probabilities(vad, english)
    carried_over = probabilities(vad, english)

    vad.reset()

    assert not np.array_equal(first, carried_over)
    assert np.array_equal(probabilities(vad, english), first)


def test_detectors_keep_separate_state(english):
    alone = probabilities(SileroVad(), english)
    first, second = SileroVad(), SileroVad()

    interleaved = [
        (first.speech_probability(chunk), second.speech_probability(chunk[::-1].copy()))
        for chunk in chunks(english)
    ]

    assert np.array_equal([pair[0] for pair in interleaved], alone)


@pytest.mark.parametrize("length", [0, 320, 511, 513, 1024])
def test_wrong_chunk_size_is_an_audio_format_error(length):
    with pytest.raises(AudioFormatError, match="512 samples"):
        SileroVad().speech_probability(np.zeros(length, dtype=np.int16))
