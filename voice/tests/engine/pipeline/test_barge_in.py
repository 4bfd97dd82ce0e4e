"""Barge-in: the user talks over the assistant (voice/engine/pipeline/session.py, responder.py).

Real Whisper and Piper; the LLM route is the OpenAI-protocol simulator told what to say, so the
answer is long and known word for word. A microphone streams in real time throughout, as a
client's does, and speech is injected while the assistant speaks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import numpy as np
import pytest

from voice.engine.config import AgentConfig, RouteConfig, TurnDetectionConfig
from voice.engine.errors import InvalidRequestError
from voice.engine.events import (
    AudioDelta,
    AudioTranscriptDone,
    Item,
    ItemTruncated,
    PlaybackFlush,
    ResponseCreated,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
)
from voice.engine.pipeline.session import VoiceSession
from voice.tests.engine.audio.room import room_response, speech_onset_ms
from voice.tests.engine.simulator import SimulatorProcess
from voice.tests.engine.voice_harness import (
    EventLog,
    Microphone,
    SessionFactory,
    noise,
    recording,
    words,
)

pytestmark = pytest.mark.models
logger = logging.getLogger(__name__)

ANSWER = (
    "The river is long and slow. It runs through three countries, past many old towns. "
    "Boats carry grain and wood along it every day. In spring the water rises and floods "
    "the fields, and the farmers wait for it to fall."
)


def speaking_config(
    simulator: SimulatorProcess,
    *,
    answer: str = ANSWER,
    interrupt_response: bool = True,
    create_response: bool = True,
) -> AgentConfig:
    route = RouteConfig(
        provider="openai_compatible", model=f"say:{answer}", base_url=simulator.base_url
    )
    detection = TurnDetectionConfig(
        interrupt_response=interrupt_response, create_response=create_response
    )
    return AgentConfig(llm_routes=(route,), turn_detection=detection)


async def ask_and_wait_for_the_answer(mic: Microphone, log: EventLog) -> AudioDelta:
    mic.say(recording("english.wav"))
    first_audio = await log.wait_for(AudioDelta, timeout_s=30)
    # Let the assistant speak for a while before interrupting it.
    await asyncio.sleep(1.5)
    return first_audio


async def test_speech_over_the_answer_stops_it_at_once_and_keeps_only_what_was_heard(
    make_session: SessionFactory, simulator: SimulatorProcess
) -> None:
    async with make_session(speaking_config(simulator)) as session:
        log = EventLog(session).start()
        mic = Microphone(session).start()
        first_audio = await ask_and_wait_for_the_answer(mic, log)
        mic.say(recording("jfk.flac")[: 24_000 * 2])
        flush = await log.wait_for(PlaybackFlush, timeout_s=10)
        cancelled = await log.wait_for(ResponseDone, timeout_s=10)
        await mic.stop()
        await log.stop()

    response_id = first_audio.response_id
    barge_in = log.of_type(SpeechStarted)[1]
    # GUIDE §5: audio stops being sent within 100 ms of the VAD confirming speech.
    cancel_latency_s = log.time_of(flush) - log.time_of(barge_in)
    injected_s = log.time_of(flush) - mic.said_at_s[-1]
    logger.info(f"barge-in: speech injected → flush in {injected_s * 1000:.0f} ms")
    logger.info(f"barge-in: speech confirmed → flush in {cancel_latency_s * 1000:.1f} ms")
    assert cancel_latency_s < 0.1
    frames = [e for e in log.of_type(AudioDelta) if e.response_id == response_id]
    assert all(log.index_of(frame) < log.index_of(flush) for frame in frames)
    assert cancelled.response_id == response_id
    assert (cancelled.status, cancelled.reason) == ("cancelled", "turn_detected")

    sent_ms = sum(frame.duration_ms for frame in frames)
    # Heard = sent minus what the client still had queued (at most the pacing lead).
    assert sent_ms - 300 - 2 * frames[0].duration_ms <= flush.audio_end_ms <= sent_ms
    answer = next(entry for entry in session.conversation.entries if entry.role == "assistant")
    assert answer.truncated
    assert 0 < len(words(answer.text)) < len(words(ANSWER))
    assert words(ANSWER)[: len(words(answer.text))] == words(answer.text)


async def test_a_noise_burst_over_the_answer_is_a_false_barge_in_and_the_answer_resumes(
    make_session: SessionFactory, simulator: SimulatorProcess
) -> None:
    async with make_session(speaking_config(simulator)) as session:
        log = EventLog(session).start()
        mic = Microphone(session).start()
        await ask_and_wait_for_the_answer(mic, log)
        # Loud enough for the VAD, long enough to pass min_speech_duration_ms, no words.
        mic.say(noise(400, rms=4_000))
        cancelled = await log.wait_for(ResponseDone, timeout_s=10)
        resumed = await log.wait_for(ResponseCreated, count=2, timeout_s=10)
        finished = await log.wait_for(ResponseDone, count=2, timeout_s=60)
        await mic.stop()
        await log.stop()

    assert cancelled.status == "cancelled"
    noise_stopped = log.of_type(SpeechStopped)[1]
    resume_latency_s = log.time_of(resumed) - log.time_of(noise_stopped)
    logger.info(f"false barge-in: noise ended → answer resumed in {resume_latency_s * 1000:.0f} ms")
    assert finished.response_id == resumed.response_id
    assert finished.status == "completed"
    rest = next(e for e in log.of_type(AudioTranscriptDone) if e.response_id == resumed.response_id)
    # The resumed part starts at a clause boundary of the answer and runs to its end.
    assert words(ANSWER)[-len(words(rest.transcript)) :] == words(rest.transcript)
    # The history reads as one whole answer; the noise left no user message behind.
    history = session.conversation.chat_messages()
    assert [message.role for message in history] == ["user", "assistant"]
    assert words(history[1].content) == words(ANSWER)


async def test_without_interrupt_response_speech_does_not_cut_the_answer(
    make_session: SessionFactory, simulator: SimulatorProcess
) -> None:
    config = speaking_config(
        simulator,
        answer="The river is long and slow. It runs through three countries.",
        interrupt_response=False,
        create_response=False,
    )
    async with make_session(config) as session:
        log = EventLog(session).start()
        mic = Microphone(session).start()
        await session.add_item(Item(id="", kind="message", role="user", text="Tell me."))
        await session.create_response()
        await log.wait_for(AudioDelta, timeout_s=30)
        mic.say(recording("jfk.flac")[: 24_000 * 2])
        await log.wait_for(SpeechStarted, timeout_s=10)
        done = await log.wait_for(ResponseDone, timeout_s=60)
        await mic.stop()
        await log.stop()
    assert done.status == "completed"
    assert not log.of_type(PlaybackFlush)


async def test_a_client_truncate_cuts_the_answer_to_the_reported_position(
    make_session: SessionFactory, simulator: SimulatorProcess
) -> None:
    config = dataclasses.replace(speaking_config(simulator), turn_detection=None)
    async with make_session(config) as session:
        log = EventLog(session).start()
        await session.add_item(Item(id="", kind="message", role="user", text="Tell me."))
        await session.create_response()
        first_audio = await log.wait_for(AudioDelta, timeout_s=30)
        await asyncio.sleep(1.0)
        await session.cancel_response()
        cancelled = await log.wait_for(ResponseDone, timeout_s=10)
        with pytest.raises(InvalidRequestError):
            await session.truncate(first_audio.item_id, 0, 60_000)
        await session.truncate(first_audio.item_id, 0, 900)
        truncated = await log.wait_for(ItemTruncated)
        await log.stop()
    assert (cancelled.status, cancelled.reason) == ("cancelled", "client_cancelled")
    assert truncated.audio_end_ms == 900
    answer = session.conversation.get(first_audio.item_id)
    assert answer.truncated
    # 0.9 s of speech is a few words, never the whole first sentence.
    assert 0 <= len(words(answer.text)) < len(words("The river is long and slow."))


# --- echo: the answer comes back through the client's microphone -----------------------------

ECHO_ANSWER = (
    "The river is long and slow. It runs through three countries, past many old towns. "
    "Boats carry grain and wood along it every day."
)
WIRE_RATE_HZ = 24_000
TICK_SAMPLES = WIRE_RATE_HZ * 20 // 1000


class EchoingDevice:
    """A client without echo cancellation: it plays the session's audio as it arrives (and
    drops what is queued on a flush), its microphone hears that through a room (delayed,
    attenuated, reverberant) plus whatever a person says, and it reports its play position
    (`aura.playback.position`) every 100 ms."""

    def __init__(
        self, session: VoiceSession, log: EventLog, *, delay_ms: int, attenuation_db: float
    ) -> None:
        self._session, self._log = session, log
        self._delay = WIRE_RATE_HZ * delay_ms // 1000
        self._gain = 10 ** (-attenuation_db / 20)
        self._room = room_response(length_s=0.1)
        self._speaker = np.zeros(WIRE_RATE_HZ * 120, dtype=np.float64)
        self._speaker_end = 0
        # (first speaker sample, item id, audio offset ms, samples) per frame played.
        self._played: list[tuple[int, str, int, int]] = []
        self._person = np.zeros(0, dtype=np.int16)
        self._events_seen = 0
        self.sample = 0  # the microphone's clock: samples sent so far
        self.person_started_at_sample: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> EchoingDevice:
        self._task = asyncio.create_task(self._run())
        return self

    def say(self, audio: np.ndarray) -> None:
        self._person = audio
        self.person_started_at_sample = self.sample

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        started_s, tick = time.monotonic(), 0
        while True:
            self._play_new_events()
            self._session.append_audio(self._microphone_chunk().tobytes())
            self.sample += TICK_SAMPLES
            tick += 1
            if tick % 5 == 0:
                self._report_position()
            await asyncio.sleep(max(0.0, started_s + tick * 0.02 - time.monotonic()))

    def _play_new_events(self) -> None:
        for event in self._log.events[self._events_seen :]:
            if isinstance(event, AudioDelta):
                pcm = np.frombuffer(event.audio, dtype="<i2")
                start = max(self._speaker_end, self.sample)
                self._speaker[start : start + len(pcm)] = pcm
                self._played.append((start, event.item_id, event.audio_offset_ms, len(pcm)))
                self._speaker_end = start + len(pcm)
            elif isinstance(event, PlaybackFlush):
                self._speaker[self.sample :] = 0.0
                self._speaker_end = self.sample
        self._events_seen = len(self._log.events)

    def _microphone_chunk(self) -> np.ndarray:
        end = self.sample + TICK_SAMPLES - self._delay
        first = end - TICK_SAMPLES - len(self._room) + 1
        source = self._speaker[max(0, first) : max(0, end)]
        source = np.concatenate([np.zeros(max(0, end - first) - len(source)), source])
        echo = np.convolve(source, self._room, mode="valid")[-TICK_SAMPLES:] * self._gain
        person = self._person[:TICK_SAMPLES].astype(np.float64)
        self._person = self._person[TICK_SAMPLES:]
        echo[: len(person)] += person
        return np.clip(echo, -32768, 32767).astype("<i2")

    def _report_position(self) -> None:
        for start, item_id, offset_ms, samples in reversed(self._played):
            if start <= self.sample < start + samples:
                played_ms = offset_ms + (self.sample - start) * 1000 // WIRE_RATE_HZ
                self._session.playback_position(item_id, played_ms)
                return


@pytest.mark.parametrize(("delay_ms", "attenuation_db"), [(50, 6), (250, 20)])
async def test_the_answers_echo_in_the_microphone_never_barges_in(
    make_session: SessionFactory, simulator: SimulatorProcess, delay_ms: int, attenuation_db: float
) -> None:
    config = speaking_config(simulator, answer=ECHO_ANSWER, create_response=False)
    async with make_session(config) as session:
        log = EventLog(session).start()
        device = EchoingDevice(
            session, log, delay_ms=delay_ms, attenuation_db=attenuation_db
        ).start()
        await session.add_item(Item(id="", kind="message", role="user", text="Tell me."))
        await session.create_response()
        done = await log.wait_for(ResponseDone, timeout_s=60)
        # The echo of the last words is still in the room after the answer is sent.
        await asyncio.sleep(0.5 + delay_ms / 1000)
        await device.stop()
        await log.stop()

    assert not log.of_type(SpeechStarted), [type(e).__name__ for e in log.events][-30:]
    assert done.status == "completed"
    assert not log.of_type(PlaybackFlush)


async def test_a_person_over_the_echo_still_barges_in_and_the_cut_is_exact(
    make_session: SessionFactory, simulator: SimulatorProcess
) -> None:
    config = speaking_config(simulator, answer=ECHO_ANSWER, create_response=False)
    async with make_session(config) as session:
        log = EventLog(session).start()
        device = EchoingDevice(session, log, delay_ms=150, attenuation_db=12).start()
        await session.add_item(Item(id="", kind="message", role="user", text="Tell me."))
        await session.create_response()
        first_audio = await log.wait_for(AudioDelta, timeout_s=30)
        await asyncio.sleep(2.0)
        person = recording("jfk.flac")[: WIRE_RATE_HZ * 2]
        device.say(person)
        barge_in = await log.wait_for(SpeechStarted, timeout_s=10)
        flush = await log.wait_for(PlaybackFlush, timeout_s=10)
        cancelled = await log.wait_for(ResponseDone, timeout_s=10)
        await device.stop()
        await log.stop()

    assert device.person_started_at_sample is not None
    words_start_ms = device.person_started_at_sample * 1000 // WIRE_RATE_HZ + speech_onset_ms(
        person, WIRE_RATE_HZ
    )
    confirmed_ms = barge_in.audio_start_ms + TurnDetectionConfig().min_speech_duration_ms
    logger.info(f"barge-in over echo: words → confirmed in {confirmed_ms - words_start_ms} ms")
    person_from_ms = device.person_started_at_sample * 1000 // WIRE_RATE_HZ
    assert barge_in.audio_start_ms >= person_from_ms, "a turn started before the person spoke"
    assert confirmed_ms - words_start_ms <= 300
    assert (cancelled.status, cancelled.reason) == ("cancelled", "turn_detected")
    frames = [e for e in log.of_type(AudioDelta) if e.response_id == first_audio.response_id]
    assert all(log.index_of(frame) < log.index_of(flush) for frame in frames)
    sent_ms = sum(frame.duration_ms for frame in frames)
    assert sent_ms - 300 - 2 * frames[0].duration_ms <= flush.audio_end_ms <= sent_ms
    answer = session.conversation.get(first_audio.item_id)
    assert answer.truncated
    assert 0 < len(words(answer.text)) < len(words(ECHO_ANSWER))
    assert words(ECHO_ANSWER)[: len(words(answer.text))] == words(answer.text)
