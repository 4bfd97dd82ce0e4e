"""User turns (voice/engine/pipeline/turns.py) on a loudness VAD: the moments of each turn are
the turn detector's own events, with their times on the session's audio clock."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from voice.engine.config import AgentConfig, TurnDetectionConfig
from voice.engine.pipeline.turns import IdleTimeout, TurnSignal, UserTurns
from voice.engine.vad.turn_detector import (
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
)
from voice.tests.engine.fakes import (
    CHUNK_MS,
    WIRE_RATE_HZ,
    FakeClock,
    ScriptedSTT,
    loudness_vad,
    quiet,
    settle,
    speech,
)


def detected(silence_duration_ms: int = 500, idle_timeout_ms: int | None = None) -> AgentConfig:
    detection = TurnDetectionConfig(
        silence_duration_ms=silence_duration_ms, idle_timeout_ms=idle_timeout_ms
    )
    # Eager: a pause of 100 ms is already one (the detector's `SilenceStarted`).
    return AgentConfig(turn_detection=detection, speculation="eager", echo_guard=False)


def user_turns(config: AgentConfig) -> UserTurns:
    return UserTurns(config, FakeClock(), ScriptedSTT(["Hello."]), vad_factory=loudness_vad)


async def signals_for(turns: UserTurns, *parts: npt.NDArray[np.int16]) -> list[TurnSignal]:
    """The signals of the audio, appended 20 ms at a time."""
    collected: list[TurnSignal] = []

    async def collect() -> None:
        async for signal in turns.signals():
            collected.append(signal)

    reader = asyncio.create_task(collect())
    audio = np.concatenate(parts)
    chunk = WIRE_RATE_HZ * CHUNK_MS // 1000
    for start in range(0, len(audio), chunk):
        turns.append(audio[start : start + chunk].tobytes())
        await settle(2)
    await settle()
    reader.cancel()
    return collected


async def test_a_turn_with_a_pause_is_started_paused_resumed_and_stopped() -> None:
    turns = user_turns(detected())

    signals = await signals_for(turns, quiet(200), speech(400), quiet(250), speech(400), quiet(600))

    assert [type(signal.moment) for signal in signals] == [
        SpeechStarted,
        SilenceStarted,
        SpeechResumed,
        SilenceStarted,
        SpeechStopped,
    ]
    assert len({id(signal.turn) for signal in signals}) == 1  # all moments of one turn
    started, stopped = signals[0].moment, signals[-1].moment
    assert isinstance(started, SpeechStarted)
    assert isinstance(stopped, SpeechStopped)
    assert started.audio_start_ms == signals[0].turn.audio_start_ms == 200
    assert stopped.audio_end_ms == signals[-1].turn.audio_end_ms
    assert not turns.speaking


async def test_a_new_detector_counts_on_from_the_sessions_audio_clock() -> None:
    turns = user_turns(detected())
    await signals_for(turns, quiet(1_000))
    turns.reconfigure(detected(silence_duration_ms=400), stt=ScriptedSTT(["Hello."]))

    signals = await signals_for(turns, quiet(200), speech(400))

    [started] = [signal.moment for signal in signals]
    assert isinstance(started, SpeechStarted)
    # Not 200: the new detector's zero is 1 s into the session (give or take the resampler's
    # few samples in flight).
    assert abs(started.audio_start_ms - 1_200) <= 5
    assert signals[0].turn.audio_start_ms == started.audio_start_ms


async def test_quiet_after_the_idle_timeout_is_a_turn_of_its_own() -> None:
    turns = user_turns(detected(idle_timeout_ms=1_000))

    signals = await signals_for(turns, quiet(1_100))

    [timeout] = signals
    assert timeout.moment == IdleTimeout(0, 1_000)
    assert (timeout.turn.audio_start_ms, timeout.turn.audio_end_ms) == (0, 1_000)
