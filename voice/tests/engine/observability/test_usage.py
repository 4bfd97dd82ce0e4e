"""Usage metering at the routers: tokens of every generation, answered, hedged or cancelled.

Routes are real `OpenAICompatibleLLM`s against the simulator subprocess (which reports usage
as word counts at the end of a stream, like OpenAI's `include_usage`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from voice.engine.config import RouteConfig
from voice.engine.llm.base import ChatMessage, LLMRequest, TextDelta
from voice.engine.observability.usage import (
    UsageMeter,
    UsageRecord,
    estimate_tokens,
    request_characters,
)
from voice.engine.routing import LLMRouter
from voice.engine.routing.breaker import BreakerRegistry
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

REPLY = "Sure, the museum opens at nine tomorrow and closes at six in the evening."
QUESTION = LLMRequest(messages=(ChatMessage("user", "When does the museum open?"),))


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(reply=REPLY, first_token_ms=20, inter_token_ms=20) as sim:
        yield sim


def route(sim: SimulatorProcess, model: str, *, budget_ms: int = 2_000) -> RouteConfig:
    return RouteConfig(
        provider="openai_compatible",
        model=model,
        base_url=sim.base_url,
        first_token_budget_ms=budget_ms,
        timeout_s=5,
    )


def by_model(records: tuple[UsageRecord, ...]) -> dict[str, UsageRecord]:
    return {record.model: record for record in records}


async def test_an_answered_stream_is_metered_with_the_providers_exact_counts(
    simulator: SimulatorProcess,
) -> None:
    meter = UsageMeter()
    router = LLMRouter([route(simulator, "primary")], breakers=BreakerRegistry(), meter=meter)

    _ = [chunk async for chunk in router.stream(QUESTION)]

    (record,) = meter.drain()
    assert (record.stage, record.provider, record.model) == ("llm", "openai_compatible", "primary")
    assert record.outcome == "answered"
    assert record.requests == 1
    assert record.completion_tokens == len(REPLY.split())
    assert record.prompt_tokens == len(QUESTION.messages[0].content.split())
    assert record.estimated_tokens == 0
    assert meter.drain() == ()


async def test_a_hedged_loser_is_metered_as_cancelled_with_estimated_tokens(
    simulator: SimulatorProcess,
) -> None:
    meter = UsageMeter()
    slow = "slow-first-token:3000"
    router = LLMRouter(
        [route(simulator, slow, budget_ms=100), route(simulator, "fast")],
        breakers=BreakerRegistry(),
        meter=meter,
    )

    _ = [chunk async for chunk in router.stream(QUESTION)]

    records = by_model(meter.drain())
    assert records["fast"].outcome == "answered"
    assert records["fast"].completion_tokens == len(REPLY.split())
    loser = records[slow]
    assert loser.outcome == "cancelled"
    # The provider read the whole prompt before it was cancelled; it never sent its usage.
    assert loser.prompt_tokens == estimate_tokens(request_characters(QUESTION.messages))
    assert loser.completion_tokens == 0
    assert loser.estimated_tokens == loser.prompt_tokens


async def test_a_generation_cut_off_midway_counts_what_was_streamed(
    simulator: SimulatorProcess,
) -> None:
    meter = UsageMeter()
    router = LLMRouter([route(simulator, "barge-in")], breakers=BreakerRegistry(), meter=meter)
    heard = ""
    stream = router.stream(QUESTION)
    async for chunk in stream:
        if isinstance(chunk, TextDelta):
            heard += chunk.text
            if len(heard) > 20:
                break
    await stream.aclose()

    (record,) = meter.drain()
    assert record.outcome == "cancelled"
    assert record.completion_tokens >= estimate_tokens(len(heard))
    assert record.completion_tokens < estimate_tokens(len(REPLY))
    assert record.estimated_tokens == record.prompt_tokens + record.completion_tokens


def test_audio_and_speech_amounts_accumulate_per_provider_and_model() -> None:
    meter = UsageMeter()
    meter.stt("local", "tiny.en", seconds=1.5)
    meter.stt("local", "tiny.en", seconds=2.25)
    meter.tts("openai", "tts-1", characters=40)
    meter.audio_in(3.0)
    meter.audio_out(0.0)

    records = {(r.stage, r.model): r for r in meter.drain()}

    assert records[("stt", "tiny.en")].stt_seconds == 3.75
    assert records[("stt", "tiny.en")].requests == 2
    assert records[("tts", "tts-1")].tts_characters == 40
    assert records[("audio_in", "")].audio_seconds == 3.0
    assert ("audio_out", "") not in records
