import numpy as np
import pytest

from voice.engine.errors import AudioFormatError, InvalidRequestError
from voice.engine.vad.webrtc import WebRtcVad, aggressiveness_for_threshold


def frames(audio, frame_samples):
    usable = audio.size - audio.size % frame_samples
    return audio[:usable].reshape(-1, frame_samples)


@pytest.mark.parametrize(
    ("threshold", "aggressiveness"),
    [(0.0, 0), (0.2, 0), (0.25, 1), (0.49, 1), (0.5, 2), (0.74, 2), (0.75, 3), (1.0, 3)],
)
def test_threshold_maps_onto_four_aggressiveness_bands(threshold, aggressiveness):
    assert aggressiveness_for_threshold(threshold) == aggressiveness
    assert WebRtcVad.from_threshold(threshold).aggressiveness == aggressiveness


@pytest.mark.parametrize("threshold", [-0.1, 1.01, float("nan")])
def test_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(InvalidRequestError, match="threshold"):
        aggressiveness_for_threshold(threshold)


def test_aggressiveness_outside_the_webrtc_modes_is_refused():
    with pytest.raises(InvalidRequestError):
        WebRtcVad(4)


def test_frames_are_20_ms_at_16k():
    assert WebRtcVad().frame_samples == 320


def test_speech_frames_are_voiced_and_digital_silence_is_not(english):
    vad = WebRtcVad(2)

    speech = [vad.speech_probability(frame) for frame in frames(english, 320)]
    silence = [vad.speech_probability(frame) for frame in frames(np.zeros(16_000, np.int16), 320)]

    assert set(speech) == {0.0, 1.0}
    # "One, two, three." is about half speech, half pauses.
    assert 0.3 < np.mean(speech) < 0.8
    assert set(silence) == {0.0}


def test_higher_aggressiveness_flags_fewer_frames_of_a_lecture(lecture):
    voiced_shares = []
    for aggressiveness in (0, 3):
        vad = WebRtcVad(aggressiveness)
        voiced_shares.append(np.mean([vad.speech_probability(f) for f in frames(lecture, 320)]))

    assert voiced_shares[0] > voiced_shares[1]


@pytest.mark.parametrize("length", [0, 160, 319, 321, 480])
def test_wrong_frame_size_is_an_audio_format_error(length):
    with pytest.raises(AudioFormatError, match="320 samples"):
        WebRtcVad().speech_probability(np.zeros(length, dtype=np.int16))
