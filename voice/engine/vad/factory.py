"""Builds the voice-activity detector a turn-detection config asks for."""

from __future__ import annotations

from voice.engine.config import TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.vad.base import VoiceActivityDetector
from voice.engine.vad.silero import SileroVad
from voice.engine.vad.webrtc import WebRtcVad


def make_vad(config: TurnDetectionConfig) -> VoiceActivityDetector:
    """A fresh detector (they keep per-stream state) for `config.vad`."""
    if config.vad == "webrtc":
        return WebRtcVad.from_threshold(config.threshold)
    if config.vad == "silero":
        return SileroVad()
    raise InvalidRequestError(
        f"unknown VAD {config.vad!r}; use 'webrtc' or 'silero'", param="turn_detection.vad"
    )
