"""Phrase-wise transcription (voice/engine/pipeline/phrases.py): each second of a turn is sent
once, each phrase with the text before it as its prompt, and the guess is their texts joined."""

from __future__ import annotations

import asyncio
import gc
import weakref

import numpy as np

from voice.engine.errors import ProviderError
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline.phrases import MIN_PHRASE_SAMPLES, PhraseTranscripts
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.pipeline.user_turn import Turn
from voice.engine.stt.base import Transcript, TranscriptionHints
from voice.tests.engine.fakes import FakeClock, ScriptedSTT

RATE_HZ = 16_000


class RecordingSTT:
    """Answers each phrase with the next text; records what it was sent; can hold or fail."""

    def __init__(self, *texts: str, failing: int | None = None) -> None:
        self.texts = list(texts)
        self.failing = failing
        self.sent: list[tuple[int, str]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, audio: np.ndarray, hints: TranscriptionHints) -> Transcript:
        index = len(self.sent)
        self.sent.append((len(audio), hints.prompt))
        await self.release.wait()
        if index == self.failing:
            raise ProviderError("upstream failed", provider="fake")
        return Transcript(text=self.texts[index], audio_duration_s=len(audio) / RATE_HZ)


def utterance(seconds: float) -> np.ndarray:
    return np.ones(int(seconds * RATE_HZ), dtype=np.int16)


async def test_each_pause_sends_only_the_audio_since_the_last_and_the_guess_joins_them() -> None:
    stt = RecordingSTT("Book a table", "for two,", "tonight.")
    phrases = PhraseTranscripts(stt, TranscriptionHints(prompt="Restaurant."), FakeClock())
    tasks = TaskSet("test")
    audio = utterance(3.0)

    for end_s in (1.0, 1.8, 3.0):
        phrases.add_up_to(tasks, audio[: int(end_s * RATE_HZ)])
        await asyncio.sleep(0)  # each phrase is in before the next pause, as usual
        await asyncio.sleep(0)
    guess = await phrases.joined(TurnTimeline())

    assert guess is not None
    assert guess.text == "Book a table for two, tonight."
    assert guess.audio_duration_s == 3.0
    assert [samples for samples, _ in stt.sent] == [16_000, 12_800, 19_200]
    assert [prompt for _, prompt in stt.sent] == [
        "Restaurant.",
        "Restaurant. Book a table",
        "Restaurant. Book a table for two,",
    ]
    await tasks.close()


async def test_a_rest_shorter_than_a_tenth_of_a_second_waits_for_the_next_phrase() -> None:
    stt = RecordingSTT("One.", "Two.")
    phrases = PhraseTranscripts(stt, TranscriptionHints(), FakeClock())
    tasks = TaskSet("test")
    audio = utterance(2.0)

    phrases.add_up_to(tasks, audio[:RATE_HZ])
    phrases.add_up_to(tasks, audio[: RATE_HZ + MIN_PHRASE_SAMPLES - 1])
    phrases.add_up_to(tasks, audio)
    await phrases.joined(TurnTimeline())

    assert [samples for samples, _ in stt.sent] == [RATE_HZ, RATE_HZ]
    await tasks.close()


async def test_a_failed_phrase_makes_the_guess_none() -> None:
    stt = RecordingSTT("One.", "Two.", failing=0)
    phrases = PhraseTranscripts(stt, TranscriptionHints(), FakeClock())
    tasks = TaskSet("test")
    audio = utterance(2.0)

    phrases.add_up_to(tasks, audio[:RATE_HZ])
    phrases.add_up_to(tasks, audio)

    assert await phrases.joined(TurnTimeline()) is None
    await tasks.close()


async def test_cancelling_the_guess_leaves_its_phrases_running_and_cancel_stops_them() -> None:
    stt = RecordingSTT("One.")
    stt.release.clear()
    phrases = PhraseTranscripts(stt, TranscriptionHints(), FakeClock())
    tasks = TaskSet("test")
    phrases.add_up_to(tasks, utterance(1.0))
    guess = asyncio.ensure_future(phrases.joined(TurnTimeline()))
    await asyncio.sleep(0)

    guess.cancel()
    await asyncio.gather(guess, return_exceptions=True)
    stt.release.set()
    resumed = await phrases.joined(TurnTimeline())
    assert resumed is not None
    assert resumed.text == "One."

    stt.release.clear()
    phrases.add_up_to(tasks, utterance(2.0))
    phrases.cancel()
    assert await phrases.joined(TurnTimeline()) is None
    await tasks.close()


async def test_the_guess_is_stamped_when_its_last_phrase_is_in() -> None:
    clock = FakeClock(start_s=5.0)
    phrases = PhraseTranscripts(RecordingSTT("One."), TranscriptionHints(), clock)
    tasks = TaskSet("test")
    timeline = TurnTimeline()

    phrases.add_up_to(tasks, utterance(1.0))
    clock.advance(0.25)
    await phrases.joined(timeline)

    assert timeline.transcript_at == 5.25
    await tasks.close()


async def test_a_phrase_wise_turn_and_its_audio_are_freed_without_the_cyclic_collector() -> None:
    tasks = TaskSet("test")
    turn = Turn(stt=ScriptedSTT(["One."]), language="en", clock=FakeClock(), phrase_wise=True)
    audio = utterance(1.0)
    alive = weakref.ref(audio)
    speculation = turn.speculate(tasks, audio)
    guess = await speculation.transcript()
    assert guess is not None
    assert guess.text == "One."
    turn.audio = audio

    gc.disable()
    try:
        del audio, turn, speculation
        assert alive() is None
    finally:
        gc.enable()
    await tasks.close()
