"""What a user turn leads to (voice/engine/pipeline/turn_handler.py), through a `VoiceSession`
built on fake providers: a loudness VAD, a scripted STT and LLM, a quiet TTS and a hand-moved
clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import numpy.typing as npt
import pytest

from voice.engine.config import AgentConfig, SpeculationMode, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError, ProviderError
from voice.engine.events import (
    AudioDelta,
    InputCommitted,
    PlaybackFlush,
    ResponseCreated,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
)
from voice.engine.pipeline.session import VoiceSession
from voice.engine.pipeline.tools import ToolRegistry
from voice.engine.stt.base import Transcript, TranscriptionRequest
from voice.tests.engine.fakes import (
    CHUNK_MS,
    WIRE_RATE_HZ,
    FakeClock,
    FakeTTS,
    ScriptedLLM,
    ScriptedSTT,
    loudness_vad,
    quiet,
    settle,
    speech,
)
from voice.tests.engine.voice_harness import EventLog


class FailingOnceSTT(ScriptedSTT):
    """Its first request fails as a provider's would."""

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        if self.calls == 0:
            self.calls += 1
            self.requests.append(request)
            raise ProviderError("upstream timed out", provider="fake", retryable=True)
        return await super().transcribe(request)


def detected(mode: SpeculationMode = "off") -> AgentConfig:
    return AgentConfig(
        turn_detection=TurnDetectionConfig(silence_duration_ms=500),
        speculation=mode,
        echo_guard=False,
    )


@asynccontextmanager
async def running(
    config: AgentConfig, stt: ScriptedSTT, llm: ScriptedLLM, clock: FakeClock | None = None
) -> AsyncIterator[tuple[VoiceSession, EventLog]]:
    session = VoiceSession(
        config,
        tools=ToolRegistry(config.tools),
        stt=stt,
        llm=llm,
        tts=FakeTTS(),
        clock=clock or FakeClock(),
        vad_factory=loudness_vad,
    )
    async with session:
        log = EventLog(session).start()
        yield session, log
        await log.stop()


async def say(session: VoiceSession, *parts: npt.NDArray[np.int16]) -> None:
    """Append the audio 20 ms at a time, letting the session react after each chunk."""
    audio = np.concatenate(parts)
    chunk = WIRE_RATE_HZ * CHUNK_MS // 1000
    for start in range(0, len(audio), chunk):
        session.append_audio(audio[start : start + chunk].tobytes())
        await settle(5)
    await settle()


async def test_a_response_starts_when_the_end_of_turn_silence_is_confirmed() -> None:
    stt, llm = ScriptedSTT(["What time is it?"]), ScriptedLLM("It is noon.")
    async with running(detected("off"), stt, llm) as (session, log):
        await say(session, speech(600), quiet(300))
        assert log.of_type(SpeechStarted)
        assert not log.of_type(SpeechStopped)
        assert llm.requests == []

        await say(session, quiet(300))
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert done.status == "completed"
    assert llm.last_user_text() == "What time is it?"
    assert log.index_of(log.first(SpeechStopped)) < log.index_of(log.first(ResponseCreated))
    history = session.conversation.chat_messages()
    assert [(m.role, m.content) for m in history] == [
        ("user", "What time is it?"),
        ("assistant", "It is noon."),
    ]


async def test_a_speculative_answer_is_prepared_in_the_silence_held_and_then_adopted() -> None:
    stt, llm = ScriptedSTT(["Hello there."], runs_locally=True), ScriptedLLM("Hi!")
    async with running(detected("eager"), stt, llm) as (session, log):
        await say(session, speech(600), quiet(300))
        # The turn has not ended yet: the answer was asked for but nothing was said.
        assert (stt.calls, len(llm.requests)) == (1, 1)
        assert not log.of_type(ResponseCreated)

        await say(session, quiet(300))
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert done.status == "completed"
    assert (stt.calls, len(llm.requests)) == (1, 1)  # adopted: nothing asked twice
    assert len(log.of_type(ResponseCreated)) == 1
    assert log.index_of(log.first(SpeechStopped)) < log.index_of(log.first(ResponseCreated))


async def test_speech_resuming_abandons_the_guess_and_its_answer() -> None:
    stt = ScriptedSTT(["Book a", "Book a table for two."], runs_locally=True)
    llm = ScriptedLLM("Done.")
    llm.held = True
    async with running(detected("eager"), stt, llm) as (session, log):
        await say(session, speech(600), quiet(250))
        assert len(llm.requests) == 1
        await say(session, speech(400))
        assert llm.cancelled == 1
        llm.release()
        await say(session, quiet(700))
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert done.status == "completed"
    assert llm.last_user_text() == "Book a table for two."
    assert len(log.of_type(ResponseCreated)) == 1
    assert log.first(TranscriptionCompleted).transcript == "Book a table for two."


async def test_the_manual_path_commits_on_request_and_answers_only_when_asked() -> None:
    config = AgentConfig(turn_detection=None, echo_guard=False)
    stt, llm = ScriptedSTT(["Good morning."]), ScriptedLLM("Morning!")
    async with running(config, stt, llm) as (session, log):
        with pytest.raises(InvalidRequestError) as empty:
            await session.commit_audio()
        await say(session, speech(500), quiet(200))
        await session.commit_audio()
        await log.wait_for(TranscriptionCompleted, timeout_s=2)
        await settle()
        assert not log.of_type(ResponseCreated)

        await session.create_response()
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert empty.value.code == "input_audio_buffer_commit_empty"
    assert not log.of_type(SpeechStarted)
    assert log.first(InputCommitted).item_id == log.first(TranscriptionCompleted).item_id
    assert done.status == "completed"
    assert llm.last_user_text() == "Good morning."


async def test_a_barge_in_cancels_the_answer_and_keeps_only_what_was_heard() -> None:
    answer = "The river is long and slow. It runs through three countries, past many old towns."
    stt, llm, clock = ScriptedSTT(["Tell me about the river."]), ScriptedLLM(answer), FakeClock()
    async with running(detected("off"), stt, llm, clock) as (session, log):
        await say(session, speech(600), quiet(600))
        await log.wait_for(AudioDelta, timeout_s=2)
        clock.advance(0.15)  # the client has played 150 ms: about half the first sentence
        await say(session, speech(300))
        cancelled = await log.wait_for(ResponseDone, timeout_s=2)
        entry = session.conversation.get(cancelled.output[0].id)

    assert cancelled.status == "cancelled"
    assert cancelled.reason == "turn_detected"
    flush = log.first(PlaybackFlush)
    assert flush.audio_end_ms == 150
    assert entry.truncated
    first_sentence = "The river is long and slow."
    # Whole words heard by 150 ms of ~270: more than nothing, less than the first sentence.
    assert first_sentence.startswith(entry.text)
    assert 0 < len(entry.text.split()) < len(first_sentence.split())


REMOTE_COUNTS = {
    "eager": {"stt": 2, "llm": 2},  # the mid-sentence pause and the end both guess and answer
    # Each phrase transcribed once (two), one answer: 300 ms is no 90% of the 500 ms silence.
    "phrases": {"stt": 2, "llm": 1},
    "thrifty": {"stt": 1, "llm": 1},  # nor is it for the one guess
    "off": {"stt": 1, "llm": 1},
    "auto": {"stt": 1, "llm": 1},  # thrifty, for a remote STT
}


@pytest.mark.parametrize("mode", sorted(REMOTE_COUNTS))
async def test_requests_per_turn_under_each_speculation_mode(mode: SpeculationMode) -> None:
    stt, llm = ScriptedSTT(["One, two, three."]), ScriptedLLM("Four.")
    async with running(detected(mode), stt, llm) as (session, log):
        await say(session, speech(500), quiet(300), speech(500), quiet(800))
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert done.status == "completed"
    assert {"stt": stt.calls, "llm": len(llm.requests)} == REMOTE_COUNTS[mode]


async def test_a_turn_in_phrases_is_each_phrase_uploaded_once_and_joined() -> None:
    stt, llm = ScriptedSTT(["One, two,", "three."]), ScriptedLLM("Four.")
    async with running(detected("phrases"), stt, llm) as (session, log):
        await say(session, speech(500), quiet(300), speech(500), quiet(800))
        done = await log.wait_for(ResponseDone, timeout_s=2)
        transcript = log.first(TranscriptionCompleted)

    assert done.status == "completed"
    assert transcript.transcript == "One, two, three."
    assert llm.requests[0].messages[-1].content == "One, two, three."
    first, second = (request.duration_s for request in stt.requests)
    # 500 ms of speech and 100 ms of its pause, then the rest of the pause, speech and 100 ms.
    assert 0.5 <= first <= 0.75
    assert 0.6 <= second <= 0.85
    # Each second once: the turn up to 100 ms into its last pause (eager: 0.6 + 1.4 s).
    assert first + second <= 1.45
    assert stt.requests[1].hints.prompt == "One, two,"


async def test_a_failed_phrase_has_the_confirmed_turn_transcribed_whole() -> None:
    stt, llm = FailingOnceSTT(["One, two, three."]), ScriptedLLM("Four.")
    async with running(detected("phrases"), stt, llm) as (session, log):
        await say(session, speech(500), quiet(300), speech(500), quiet(800))
        await log.wait_for(ResponseDone, timeout_s=2)
        transcript = log.first(TranscriptionCompleted)

    assert transcript.transcript == "One, two, three."
    assert stt.calls == 3  # two phrases (the first failed), then the whole turn
    assert stt.requests[-1].duration_s >= 1.5


async def test_speech_resuming_keeps_the_phrase_sent_and_voids_only_the_answer() -> None:
    stt, llm = ScriptedSTT(["Book a", "table for two."]), ScriptedLLM("Done.")
    llm.held = True
    # 2 s of silence: the pause is held at 1.8 s; speech resuming 50 ms later is confirmed
    # (60 ms of it) well before the turn would end.
    config = dataclasses.replace(
        detected("phrases"), turn_detection=TurnDetectionConfig(silence_duration_ms=2_000)
    )
    async with running(config, stt, llm) as (session, log):
        await say(session, speech(600), quiet(1_850))  # held: the answer starts
        assert len(llm.requests) == 1
        await say(session, speech(400))
        assert llm.cancelled == 1
        llm.release()
        await say(session, quiet(2_200))
        done = await log.wait_for(ResponseDone, timeout_s=2)

    assert done.status == "completed"
    assert len(log.of_type(SpeechStopped)) == 1
    assert stt.calls == 2  # the first phrase was not sent again
    assert log.first(TranscriptionCompleted).transcript == "Book a table for two."
    assert llm.last_user_text() == "Book a table for two."


async def test_clearing_the_input_stops_the_phrases_still_being_transcribed() -> None:
    stt, llm = ScriptedSTT(["Book a"]), ScriptedLLM("Done.")
    stt.held = True
    async with running(detected("phrases"), stt, llm) as (session, log):
        await say(session, speech(600), quiet(200))
        assert stt.calls == 1
        await session.clear_audio()
        await settle()

        assert stt.cancelled == 1
        assert not log.of_type(TranscriptionCompleted)
        assert not llm.requests


async def test_auto_speculation_guesses_at_every_pause_with_a_local_stt() -> None:
    stt, llm = ScriptedSTT(["One, two, three."], runs_locally=True), ScriptedLLM("Four.")
    async with running(detected("auto"), stt, llm) as (session, log):
        await say(session, speech(500), quiet(300), speech(500), quiet(800))
        await log.wait_for(ResponseDone, timeout_s=2)

    assert {"stt": stt.calls, "llm": len(llm.requests)} == REMOTE_COUNTS["eager"]
