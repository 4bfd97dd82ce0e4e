"""The input front end (voice/engine/audio/front_end.py): what runs, in which order, and how
chunks of any size come out as whole hops without loss."""

from __future__ import annotations

import dataclasses

import numpy as np

from voice.engine.audio.echo import HOP_SAMPLES
from voice.engine.audio.echo_reference import EchoReference
from voice.engine.audio.front_end import InputFrontEnd
from voice.engine.config import AgentConfig
from voice.tests.engine.stt.recordings import recording_16k


def test_with_nothing_to_do_the_audio_passes_untouched():
    front_end = InputFrontEnd(dataclasses.replace(AgentConfig(), echo_guard=False), None)
    chunk = recording_16k("english.wav")[:333]

    assert front_end.passes_through
    assert front_end.process(chunk) is chunk


def test_the_echo_guard_alone_leaves_audio_unchanged_while_nothing_plays():
    front_end = InputFrontEnd(AgentConfig(), EchoReference())
    speech = recording_16k("english.wav")
    parts = [front_end.process(speech[start : start + 250]) for start in range(0, len(speech), 250)]
    rest = front_end.flush()

    assert all(len(part) % HOP_SAMPLES == 0 for part in parts)
    np.testing.assert_array_equal(np.concatenate([*parts, rest]), speech)


def test_noise_reduction_can_be_switched_on_and_off_mid_stream():
    config = AgentConfig(echo_guard=False, noise_reduction="near_field")
    front_end = InputFrontEnd(config, EchoReference())
    speech = recording_16k("english.wav")

    assert len(front_end.process(speech[:1_000])) == 960  # 40 samples wait for a whole hop
    far = front_end.reconfigured(dataclasses.replace(config, noise_reduction="far_field"))
    same = far.reconfigured(dataclasses.replace(config, noise_reduction="far_field"))

    assert far is not front_end
    assert same is far
    # The samples short of a hop are carried over, not lost, when the profile changes.
    assert len(far.process(speech[1_000:1_120])) == 160
    off = far.reconfigured(dataclasses.replace(config, noise_reduction=None))
    assert off.passes_through
