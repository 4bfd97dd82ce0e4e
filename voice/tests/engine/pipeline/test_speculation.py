"""The speculation policy: how many provider requests a turn costs, per kind of STT.

The session-level tests speak the load benchmark's recording, whose mid-sentence pauses last
400 to 450 ms (longer than the eager policy's 100 ms, shorter than 90% of the 500 ms
end-of-turn silence), to a remote STT and LLM served by the OpenAI-protocol simulator, and
count the requests the simulator received.
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import numpy.typing as npt

from bench.load_setup import load_utterance
from voice.engine.audio.resample import resample
from voice.engine.config import AgentConfig, RouteConfig, SpeculationMode, TurnDetectionConfig
from voice.engine.events import ResponseDone
from voice.engine.pipeline.speculation import EAGER_PAUSE_MS, speculation_policy
from voice.engine.stt.base import Transcript, TranscriptionRequest
from voice.tests.engine.simulator import SimulatorProcess
from voice.tests.engine.voice_harness import (
    WIRE,
    EventLog,
    SessionFactory,
    SimulatorLLM,
    feed,
    silence,
)

REMOTE_STT = "sim-stt+slow-first-token:150"
LLM = "say:Sure. I can help with that."


def test_auto_is_eager_for_a_local_stt_and_thrifty_for_a_remote_one() -> None:
    config = AgentConfig(turn_detection=TurnDetectionConfig(silence_duration_ms=500))

    local = speculation_policy(config, stt_runs_locally=True)
    remote = speculation_policy(config, stt_runs_locally=False)

    assert (local.mode, local.pause_ms, local.max_answers_per_turn) == ("eager", 100, None)
    assert (remote.mode, remote.pause_ms, remote.max_answers_per_turn) == ("thrifty", 450, 1)
    assert (remote.answer_pause_ms, remote.phrase_wise) == (None, False)


def test_phrases_are_cut_at_every_pause_and_answered_once_the_pause_is_held() -> None:
    config = AgentConfig(
        speculation="phrases", turn_detection=TurnDetectionConfig(silence_duration_ms=500)
    )

    for runs_locally in (False, True):
        policy = speculation_policy(config, stt_runs_locally=runs_locally)
        assert (policy.pause_ms, policy.answer_pause_ms, policy.phrase_wise) == (100, 450, True)
        assert policy.max_answers_per_turn == 1


def test_an_explicit_mode_wins_over_the_kind_of_stt() -> None:
    eager = AgentConfig(speculation="eager")
    off = AgentConfig(speculation="off")
    thrifty = AgentConfig(speculation="thrifty")

    assert speculation_policy(eager, stt_runs_locally=False).pause_ms == EAGER_PAUSE_MS
    assert not speculation_policy(off, stt_runs_locally=True).enabled
    assert speculation_policy(thrifty, stt_runs_locally=True).max_answers_per_turn == 1


def test_a_thrifty_pause_never_outlasts_a_very_short_end_of_turn_silence() -> None:
    config = AgentConfig(
        speculation="thrifty", turn_detection=TurnDetectionConfig(silence_duration_ms=80)
    )

    assert speculation_policy(config, stt_runs_locally=False).pause_ms == EAGER_PAUSE_MS
    phrases = dataclasses.replace(config, speculation="phrases")
    assert speculation_policy(phrases, stt_runs_locally=False).answer_pause_ms == EAGER_PAUSE_MS


def benchmark_utterance() -> npt.NDArray[np.int16]:
    """The load benchmark's first utterance (two mid-sentence pauses), at the wire rate."""
    pcm = np.frombuffer(load_utterance("english.wav"), dtype="<i2")
    return resample(pcm, 24_000, WIRE.sample_rate_hz)


async def requests_for_one_turn(
    make_session: SessionFactory,
    simulator: SimulatorProcess,
    simulator_llm: SimulatorLLM,
    mode: SpeculationMode,
) -> dict[str, float]:
    """Provider requests per stage ("stt", "llm") for one spoken turn under `mode`, and the
    seconds of audio uploaded for transcription ("stt_audio_s")."""
    stt = RouteConfig(provider="openai_compatible", model=REMOTE_STT, base_url=simulator.base_url)
    config = AgentConfig(
        turn_detection=TurnDetectionConfig(silence_duration_ms=500),
        stt_routes=(stt,),
        speculation=mode,
    )
    await simulator.reset()
    async with make_session(config, llm=simulator_llm(f"sim-llm+{LLM}")) as session:
        log = EventLog(session).start()
        await feed(session, np.concatenate([benchmark_utterance(), silence(1_500)]))
        await log.wait_for(ResponseDone, timeout_s=30)
        await log.stop()
    requests = await simulator.requests()
    transcriptions = [r for r in requests if r["model"].startswith("sim-stt")]
    return {
        "stt": len(transcriptions),
        "llm": sum(1 for r in requests if r["model"].startswith("sim-llm")),
        "stt_audio_s": sum(r["detail"]["duration_s"] for r in transcriptions),
    }


async def test_a_remote_stt_is_asked_once_per_turn_and_the_llm_once(
    make_session: SessionFactory, simulator: SimulatorProcess, simulator_llm: SimulatorLLM
) -> None:
    counts = await requests_for_one_turn(make_session, simulator, simulator_llm, "auto")

    assert (counts["stt"], counts["llm"]) == (1, 1)


async def test_phrases_send_each_second_once_and_ask_the_llm_once(
    make_session: SessionFactory, simulator: SimulatorProcess, simulator_llm: SimulatorLLM
) -> None:
    whole_turn = await requests_for_one_turn(make_session, simulator, simulator_llm, "off")
    counts = await requests_for_one_turn(make_session, simulator, simulator_llm, "phrases")

    # Three phrases (two mid-sentence pauses), each uploaded once; a single answer.
    assert (counts["stt"], counts["llm"]) == (3, 1)
    assert counts["stt_audio_s"] <= whole_turn["stt_audio_s"]


async def test_each_eager_guess_uploads_the_whole_utterance_again(
    make_session: SessionFactory, simulator: SimulatorProcess, simulator_llm: SimulatorLLM
) -> None:
    whole_turn = await requests_for_one_turn(make_session, simulator, simulator_llm, "off")
    counts = await requests_for_one_turn(make_session, simulator, simulator_llm, "eager")

    assert counts["stt_audio_s"] > 1.5 * whole_turn["stt_audio_s"]


async def test_with_speculation_off_the_turn_is_transcribed_once_after_it_ends(
    make_session: SessionFactory, simulator: SimulatorProcess, simulator_llm: SimulatorLLM
) -> None:
    counts = await requests_for_one_turn(make_session, simulator, simulator_llm, "off")

    assert (counts["stt"], counts["llm"]) == (1, 1)


class CountingLocalSTT:
    """A local STT (cheap to repeat) that counts its transcriptions; a fixed transcript."""

    runs_locally = True

    def __init__(self) -> None:
        self.calls = 0

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        self.calls += 1
        await asyncio.sleep(0.05)
        return Transcript(text="Hello there.", audio_duration_s=request.duration_s)


async def test_a_local_stt_keeps_guessing_at_every_pause(
    make_session: SessionFactory, simulator_llm: SimulatorLLM
) -> None:
    stt = CountingLocalSTT()
    config = AgentConfig(turn_detection=TurnDetectionConfig(silence_duration_ms=500))
    async with make_session(config, stt=stt, llm=simulator_llm(f"sim-llm+{LLM}")) as session:
        log = EventLog(session).start()
        await feed(session, np.concatenate([benchmark_utterance(), silence(1_500)]))
        await log.wait_for(ResponseDone, timeout_s=30)
        await log.stop()

    assert stt.calls == 3  # both mid-sentence pauses and the end, as before the policy
