import pytest

from voice.engine.config import TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.vad.factory import make_vad
from voice.engine.vad.silero import SileroVad
from voice.engine.vad.webrtc import WebRtcVad


def test_webrtc_gets_its_aggressiveness_from_the_threshold():
    vad = make_vad(TurnDetectionConfig(vad="webrtc", threshold=0.9))

    assert isinstance(vad, WebRtcVad)
    assert vad.aggressiveness == 3


def test_silero_is_built_on_request():
    assert isinstance(make_vad(TurnDetectionConfig(vad="silero")), SileroVad)


def test_each_call_builds_a_fresh_detector():
    config = TurnDetectionConfig(vad="silero")

    assert make_vad(config) is not make_vad(config)


def test_unknown_vad_is_an_invalid_request():
    with pytest.raises(InvalidRequestError, match="unknown VAD"):
        make_vad(TurnDetectionConfig(vad="cobra"))  # type: ignore[arg-type]
