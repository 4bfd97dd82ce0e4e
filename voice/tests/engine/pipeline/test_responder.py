"""The session's responses over time (voice/engine/pipeline/responder.py) on fake providers."""

from __future__ import annotations

import numpy as np

from voice.engine.events import (
    AudioDelta,
    PlaybackFlush,
    ResponseCreated,
    ResponseDone,
    TurnMetrics,
)
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline import conversation as items
from voice.engine.pipeline.responder import Responder, ResponderPorts
from voice.engine.pipeline.response_services import ResponseOptions
from voice.engine.pipeline.speculation import Speculation
from voice.engine.pipeline.task_set import TaskSet
from voice.engine.stt.base import Transcript
from voice.tests.engine.fakes import RecordingSink, ScriptedLLM, settle
from voice.tests.engine.response_kit import ResponseKit

RIVER = "The river is long and slow. It runs through three countries, past many old towns."
GUESSED = (ChatMessage(role="user", content="What time is it?"),)


def responder_for(kit: ResponseKit, tasks: TaskSet, sink: RecordingSink | None = None) -> Responder:
    responder = Responder(
        ResponderPorts(
            conversation=kit.conversation,
            events=kit.events,
            tasks=tasks,
            clock=kit.clock,
            services=kit.services,
            transcript_sink=sink,
        )
    )
    return responder


def guess_of(text: str, tasks: TaskSet) -> Speculation:
    """A transcript guess whose transcription is already done."""

    async def transcribed() -> Transcript:
        return Transcript(text=text)

    task = tasks.spawn(transcribed(), name="guess")
    return Speculation(np.zeros(0, dtype=np.int16), TurnTimeline(speculative=True), task)


async def test_a_started_response_is_reported_with_its_metrics_and_its_messages() -> None:
    kit, sink, tasks = ResponseKit(ScriptedLLM("Hello!")), RecordingSink(), TaskSet("test")
    kit.conversation.add(items.user_message("Hi."))
    responder = responder_for(kit, tasks, sink)

    await responder.start(ResponseOptions(), TurnTimeline())
    await settle()
    events = kit.queued()
    await tasks.close()

    done = next(e for e in events if isinstance(e, ResponseDone))
    metrics = next(e for e in events if isinstance(e, TurnMetrics))
    assert done.status == "completed"
    assert metrics.response_id == done.response_id
    assert responder.active is None
    [(messages, report)] = sink.turns
    assert [(m.role, m.content) for m in messages] == [("user", "Hi."), ("assistant", "Hello!")]
    assert report.metrics.status == "completed"
    assert report.response_id == done.response_id


async def test_a_barge_in_without_words_resumes_the_unheard_rest_without_asking_again() -> None:
    kit, tasks = ResponseKit(ScriptedLLM(RIVER), playback_lead_ms=300), TaskSet("test")
    kit.conversation.add(items.user_message("Tell me about the river."))
    responder = responder_for(kit, tasks)
    await responder.start(ResponseOptions(), TurnTimeline())
    await settle()
    assert any(isinstance(e, AudioDelta) for e in kit.queued())
    kit.clock.advance(0.1)

    await responder.interrupt("turn_detected")
    cut = kit.queued()
    cough = items.user_message("...")
    kit.conversation.add(cough)
    resumed = await responder.resume_if_false_barge_in(
        cough, speech_stopped_at_s=kit.clock.monotonic(), window_ms=1_200
    )
    await settle()
    await tasks.close()

    assert [e.status for e in cut if isinstance(e, ResponseDone)] == ["cancelled"]
    assert any(isinstance(e, PlaybackFlush) for e in cut)
    assert resumed
    assert len(kit.llm.requests) == 1  # the rest was spoken from the cut, not asked again
    assert kit.tts.clauses[-1] == "It runs through three countries, past many old towns."
    assert cough.id not in [entry.id for entry in kit.conversation.entries]


async def test_a_barge_in_with_words_is_a_real_turn_and_nothing_resumes() -> None:
    kit, tasks = ResponseKit(ScriptedLLM(RIVER), playback_lead_ms=300), TaskSet("test")
    responder = responder_for(kit, tasks)
    await responder.start(ResponseOptions(), TurnTimeline())
    await settle()
    kit.queued()
    await responder.interrupt("turn_detected")
    question = items.user_message("Which countries?")
    kit.conversation.add(question)

    resumed = await responder.resume_if_false_barge_in(
        question, speech_stopped_at_s=kit.clock.monotonic(), window_ms=1_200
    )
    await tasks.close()

    assert not resumed
    assert responder.active is None
    assert len(kit.llm.requests) == 1


async def test_an_answer_prepared_ahead_says_nothing_until_adopted_then_speaks() -> None:
    kit, tasks = ResponseKit(ScriptedLLM("It is noon.")), TaskSet("test")
    responder = responder_for(kit, tasks)
    guess = guess_of("What time is it?", tasks)

    responder.answer_ahead(guess, GUESSED, ResponseOptions())
    await settle()
    held = kit.queued()
    held_active = responder.active
    adopted = responder.adopt(guess)
    await settle()
    spoken = kit.queued()
    await tasks.close()

    assert held == []
    assert held_active is None
    assert adopted
    assert len(kit.llm.requests) == 1  # the answer asked for ahead is the one spoken
    assert isinstance(spoken[0], ResponseCreated)
    assert [e.status for e in spoken if isinstance(e, ResponseDone)] == ["completed"]
    assert kit.tts.clauses == ["It is noon."]


async def test_an_answer_prepared_ahead_is_cancelled_with_its_guess_and_never_adopted() -> None:
    kit, tasks = ResponseKit(ScriptedLLM("It is noon.")), TaskSet("test")
    kit.llm.held = True
    responder = responder_for(kit, tasks)
    guess = guess_of("What time is it?", tasks)
    responder.answer_ahead(guess, GUESSED, ResponseOptions())
    await settle()

    guess.abandon()  # the user spoke on
    await settle()
    adopted = responder.adopt(guess)
    kit.llm.release()
    await settle()
    events = kit.queued()
    await tasks.close()

    assert kit.llm.cancelled == 1
    assert not adopted
    assert responder.active is None
    assert events == []


async def test_an_answer_prepared_ahead_waits_while_another_response_is_active() -> None:
    kit, tasks = ResponseKit(ScriptedLLM(RIVER), playback_lead_ms=300), TaskSet("test")
    responder = responder_for(kit, tasks)
    await responder.start(ResponseOptions(), TurnTimeline())
    await settle()
    speaking = responder.active
    kit.llm.held = True  # the answer ahead waits in its request (the river's has streamed)
    guess = guess_of("Which countries?", tasks)
    responder.answer_ahead(guess, GUESSED, ResponseOptions())
    await settle()

    adopted = responder.adopt(guess)
    guess.abandon()  # the turn is answered otherwise: its guess, and the answer, are void
    await settle()
    cancelled = kit.llm.cancelled
    await tasks.close()

    assert not adopted
    assert responder.active is speaking
    assert cancelled == 1
