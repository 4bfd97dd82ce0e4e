"""One response run (voice/engine/pipeline/response.py) on fake providers: what it says, when it may
speak, and what a failure or a cut leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from voice.engine.config import ToolSpec
from voice.engine.errors import AuraError
from voice.engine.events import (
    AudioDelta,
    ResponseCreated,
    ResponseDone,
    SessionError,
    SessionEvent,
)
from voice.engine.llm.base import ChatMessage
from voice.engine.observability.turn_metrics import TurnTimeline
from voice.engine.pipeline.response import ResponseRun
from voice.engine.pipeline.response_services import ResponseOptions
from voice.tests.engine.fakes import ScriptedLLM, settle
from voice.tests.engine.response_kit import ResponseKit

QUESTION = (ChatMessage(role="user", content="Where is my order?"),)
# Longer than the 300 ms lead the cut tests allow: its output waits for the play head.
RIVER = "The river is long and slow. It runs through three countries, past many old towns."
LOOKUP = ToolSpec(name="lookup_order", description="Look an order up.", parameters={})


def run_for(kit: ResponseKit, *, speculative: bool = False) -> ResponseRun:
    return ResponseRun(
        kit.services(),
        messages=QUESTION,
        options=ResponseOptions(),
        timeline=TurnTimeline(),
        speculative=speculative,
    )


def kinds(events: list[SessionEvent]) -> list[type]:
    return [type(event) for event in events]


async def test_a_run_speaks_the_whole_answer_and_reports_it_completed() -> None:
    kit = ResponseKit(ScriptedLLM("Your order shipped today."))

    done = await run_for(kit).run()
    events = kit.queued()

    assert done.status == "completed"
    assert kinds(events)[0] is ResponseCreated
    assert events[-1] == done
    audio_ms = sum(e.duration_ms for e in events if isinstance(e, AudioDelta))
    # The fake TTS speaks 10 ms per character; the encoder's last frame may be padded.
    assert abs(audio_ms - 10 * len("Your order shipped today.")) <= 20
    assert [(m.role, m.content) for m in kit.conversation.chat_messages()] == [
        ("assistant", "Your order shipped today.")
    ]


async def test_a_speculative_run_says_nothing_until_released() -> None:
    kit = ResponseKit(ScriptedLLM("Hello."))
    run = run_for(kit, speculative=True)
    task = asyncio.create_task(run.run())
    await settle()

    assert len(kit.llm.requests) == 1  # the answer is being prepared...
    assert kit.queued() == []  # ...but nothing reaches the client

    run.release()
    done = await task
    assert done.status == "completed"
    assert kinds(kit.queued())[0] is ResponseCreated


async def test_a_speculative_run_calls_no_tool_before_it_is_released() -> None:
    calls: list[str] = []

    class Orders:
        async def execute(self, name: str, arguments: Mapping[str, object], *, call_id: str) -> str:
            calls.append(name)
            return '{"status": "shipped"}'

    kit = ResponseKit(
        ScriptedLLM("call:lookup_order:{}", after_tool="It shipped."),
        tools=(LOOKUP,),
        executor=Orders(),
    )
    run = run_for(kit, speculative=True)
    task = asyncio.create_task(run.run())
    await settle()
    assert calls == []

    run.release()
    done = await task
    assert calls == ["lookup_order"]
    assert [item.kind for item in done.output] == ["function_call", "message"]
    assert done.output[-1].text == "It shipped."


async def test_a_failing_model_fails_the_response_after_reporting_the_error() -> None:
    llm = ScriptedLLM()
    llm.failure = AuraError("the model is down", code="provider_error")
    kit = ResponseKit(llm)
    done = await run_for(kit).run()
    events = kit.queued()

    assert done.status == "failed"
    errors = [e for e in events if isinstance(e, SessionError)]
    assert len(errors) == 1
    assert events.index(errors[0]) < events.index(done)
    assert isinstance(events[-1], ResponseDone)


async def test_a_cut_run_keeps_the_heard_words_and_returns_the_unheard_clauses() -> None:
    kit = ResponseKit(ScriptedLLM(RIVER), playback_lead_ms=300)
    run = run_for(kit)
    task = asyncio.create_task(run.run())
    await settle()
    assert any(isinstance(e, AudioDelta) for e in kit.queued())  # the transport sent them
    kit.clock.advance(0.1)  # the client has played 100 ms

    task.cancel()
    interruption = run.stop_output()
    await asyncio.wait({task})
    done = await run.finish_cancelled("turn_detected")

    assert done.status == "cancelled"
    assert interruption.flush is not None
    assert interruption.flush.audio_end_ms == 100
    assert interruption.entry is not None
    assert interruption.entry.truncated
    assert "The river is long and slow.".startswith(interruption.entry.text)
    assert interruption.unheard_clauses[0] == "The river is long and slow."
    assert " ".join(interruption.unheard_clauses).endswith("past many old towns.")


async def test_frames_the_transport_never_took_are_withdrawn_on_a_cut() -> None:
    kit = ResponseKit(ScriptedLLM(RIVER), playback_lead_ms=300)
    run = run_for(kit)
    task = asyncio.create_task(run.run())
    await settle()

    task.cancel()
    interruption = run.stop_output()
    await asyncio.wait({task})

    assert interruption.flush is None  # nothing reached the client: nothing to flush
    assert not any(isinstance(e, AudioDelta) for e in kit.queued())
    assert interruption.entry is not None
    assert interruption.entry.text == ""
