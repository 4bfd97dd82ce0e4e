"""The routers: failover, hedging, breakers and cancellation, over real providers.

Every route here is a real `OpenAICompatibleLLM` (or STT/TTS) using the openai SDK against the
simulator subprocess; the model name tells the simulator how to misbehave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pytest

from voice.engine.config import RouteConfig
from voice.engine.errors import (
    AllRoutesFailedError,
    AudioFormatError,
    InvalidRequestError,
    ProviderError,
)
from voice.engine.llm.base import ChatMessage, Finish, LLMChunk, LLMRequest, TextDelta
from voice.engine.routing import (
    LLMRouter,
    RouteDecision,
    RoutesExhaustedError,
    STTRouter,
    TTSChunk,
    TTSRouter,
    breaker_key,
)
from voice.engine.routing.breaker import BreakerPolicy, BreakerRegistry, BreakerState
from voice.engine.stt.base import TranscriptionRequest
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

T = TypeVar("T")
REPLY = "Sure, the museum opens at nine tomorrow."
TRANSCRIPT = "when does the museum open"
QUESTION = LLMRequest(messages=(ChatMessage("user", "When does the museum open?"),))


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def monotonic(self) -> float:
        return self.now_s


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(reply=REPLY, transcript=TRANSCRIPT) as sim:
        yield sim


@pytest.fixture
async def sim(simulator: SimulatorProcess) -> SimulatorProcess:
    await simulator.reset()
    return simulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breakers(clock: FakeClock) -> BreakerRegistry:
    return BreakerRegistry(policy=BreakerPolicy(failure_threshold=2, cooldown_s=30), clock=clock)


@pytest.fixture
def decisions() -> list[RouteDecision]:
    return []


def route(sim: SimulatorProcess, model: str, *, budget_ms: int = 2_000) -> RouteConfig:
    return RouteConfig(
        provider="openai_compatible",
        model=model,
        base_url=sim.base_url,
        first_token_budget_ms=budget_ms,
        timeout_s=5,
    )


def llm_router(
    routes: list[RouteConfig], breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> LLMRouter:
    return LLMRouter(routes, breakers=breakers, on_decision=decisions.append)


@dataclass(frozen=True)
class Answer:
    chunks: list[LLMChunk]
    # "provider/model" that the call's own stream names as the one that answered.
    route: str | None


async def answer(router: LLMRouter) -> Answer:
    stream = router.stream(QUESTION)
    chunks = [chunk async for chunk in stream]
    return Answer(chunks, stream.answered_label)


async def drain(stream: AsyncIterator[T], *, into: list[T]) -> None:
    """Collect items into `into`, so they are kept when the stream raises."""
    async for item in stream:
        into.append(item)


def text_of(chunks: list[LLMChunk]) -> str:
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextDelta))


def actions(decisions: list[RouteDecision]) -> list[tuple[str, str]]:
    return [(d.action, d.route.split("/", 1)[1]) for d in decisions]


def route_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("llm-route")]


# -- the happy path -------------------------------------------------------------------------


async def test_the_first_route_answers_when_healthy(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    router = llm_router([route(sim, "primary"), route(sim, "backup")], breakers, decisions)

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert isinstance(answered.chunks[-1], Finish)
    assert answered.chunks[-1].usage.completion_tokens == len(REPLY.split())
    assert answered.route == "openai_compatible/primary"
    assert actions(decisions) == [("selected", "primary"), ("won", "primary")]
    assert all(d.stage == "llm" for d in decisions)
    assert await sim.counts() == {"primary": 1}


# -- failover -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failing_model", "reason"),
    [
        ("fail-500", "provider_error (HTTP 500)"),
        ("fail-429", "rate_limited (HTTP 429)"),
        ("fail-503", "provider_error (HTTP 503)"),
        ("stop-after:0", "incomplete_stream"),
        ("garbage", "invalid_provider_response"),
        ("fail-401", "provider_auth_failed (HTTP 401)"),
    ],
)
async def test_fails_over_when_a_route_errs_before_any_output(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    decisions: list[RouteDecision],
    failing_model: str,
    reason: str,
) -> None:
    router = llm_router([route(sim, failing_model), route(sim, "backup")], breakers, decisions)

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == "openai_compatible/backup"
    assert actions(decisions) == [
        ("selected", failing_model),
        ("failed", failing_model),
        ("selected", "backup"),
        ("won", "backup"),
    ]
    # A code and the status, never the provider's own words: clients may see decisions.
    assert decisions[1].reason == reason
    assert await sim.counts() == {failing_model: 1, "backup": 1}


async def test_two_calls_at_once_each_name_the_route_that_answered_them(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    # The primary fails its first request only: one call fails over, the other does not.
    flaky = "fail-first:1"
    router = llm_router([route(sim, flaky), route(sim, "backup")], breakers, decisions)

    first, second = await asyncio.gather(answer(router), answer(router))

    assert text_of(first.chunks) == text_of(second.chunks) == REPLY
    assert {first.route, second.route} == {"openai_compatible/backup", f"openai_compatible/{flaky}"}
    assert await sim.counts() == {flaky: 2, "backup": 1}


async def test_skips_a_route_whose_api_key_is_missing(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    decisions: list[RouteDecision],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.setenv("XAI_BASE_URL", sim.base_url)
    grok = RouteConfig(provider="grok", model="grok-3-mini")
    router = llm_router([grok, route(sim, "backup")], breakers, decisions)

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert decisions[0].action == "skipped"
    assert decisions[0].route == "grok/grok-3-mini"
    assert decisions[0].reason == "missing_api_key"
    assert await sim.counts() == {"backup": 1}


async def test_uses_the_operators_key_towards_the_operators_endpoint(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    decisions: list[RouteDecision],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-operator-key")
    monkeypatch.setenv("XAI_BASE_URL", sim.base_url)
    grok = RouteConfig(provider="grok", model="grok-3-mini")
    router = llm_router([grok], breakers, decisions)

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == "grok/grok-3-mini"
    [request] = await sim.requests()
    assert request["authorization"] == "Bearer xai-operator-key"


async def test_the_operators_keys_never_go_to_a_routes_own_base_url(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    decisions: list[RouteDecision],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-openai-key")
    monkeypatch.setenv("XAI_API_KEY", "xai-operator-grok-key")
    tenant_host = [
        RouteConfig(provider="openai", model="gpt-4o-mini", base_url=sim.base_url),
        RouteConfig(provider="grok", model="grok-3-mini", base_url=sim.base_url),
    ]
    router = llm_router([*tenant_host, route(sim, "backup")], breakers, decisions)

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert [(d.action, d.reason) for d in decisions[:2]] == [("skipped", "missing_api_key")] * 2
    requests = await sim.requests()
    assert [r["model"] for r in requests] == ["backup"]
    assert "operator" not in requests[0]["authorization"]


async def test_all_routes_failing_raises_with_every_reason(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    decisions: list[RouteDecision],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    routes = [
        route(sim, "fail-500"),
        route(sim, "fail-429"),
        RouteConfig(provider="grok", model="grok-3-mini"),
    ]
    router = llm_router(routes, breakers, decisions)

    stream = router.stream(QUESTION)
    with pytest.raises(AllRoutesFailedError) as caught:
        await drain(stream, into=[])

    assert isinstance(caught.value, RoutesExhaustedError)
    assert caught.value.code == "all_routes_failed"
    reasons = {failure.route: failure.reason for failure in caught.value.failures}
    assert "HTTP 500" in reasons["openai_compatible/fail-500"]
    assert "HTTP 429" in reasons["openai_compatible/fail-429"]
    assert "XAI_API_KEY" in reasons["grok/grok-3-mini"]
    assert "HTTP 500" in caught.value.message
    assert "XAI_API_KEY" in caught.value.message
    assert stream.answered_route is None


async def test_no_routes_at_all_is_a_clear_error(
    breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    with pytest.raises(RoutesExhaustedError, match="no llm route is configured"):
        await answer(llm_router([], breakers, decisions))


# -- never fail over mid-answer -------------------------------------------------------------


async def test_an_error_after_text_propagates_without_repeating_the_answer(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    router = llm_router([route(sim, "stop-halfway"), route(sim, "backup")], breakers, decisions)
    received: list[LLMChunk] = []

    with pytest.raises(ProviderError) as caught:
        await drain(router.stream(QUESTION), into=received)

    assert caught.value.code == "incomplete_stream"
    heard = text_of(received)
    assert 0 < len(heard) < len(REPLY)
    assert REPLY.startswith(heard)
    assert await sim.counts() == {"stop-halfway": 1}
    assert actions(decisions)[-1] == ("failed", "stop-halfway")
    assert "no failover" in decisions[-1].reason


async def test_invalid_tool_arguments_surface_as_a_clear_error(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    model = 'tool-call:book_table:{"time": 7pm}'
    router = llm_router([route(sim, model), route(sim, "backup")], breakers, decisions)

    with pytest.raises(ProviderError) as caught:
        await answer(router)

    assert caught.value.code == "invalid_tool_arguments"
    assert "book_table" in caught.value.message
    assert await sim.counts() == {model: 1}


async def test_a_bad_request_is_not_retried_on_other_routes(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    router = llm_router([route(sim, "primary"), route(sim, "backup")], breakers, decisions)
    orphan_tool_result = LLMRequest(messages=(ChatMessage("tool", "42"),))

    with pytest.raises(InvalidRequestError):
        _ = [chunk async for chunk in router.stream(orphan_tool_result)]

    assert await sim.counts() == {}
    assert breakers.get(breaker_key("llm", router.routes[0])).state is BreakerState.CLOSED


# -- hedging --------------------------------------------------------------------------------


async def test_a_slow_first_token_is_hedged_and_the_faster_route_wins(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    slow = "slow-first-token:3000"
    router = llm_router([route(sim, slow, budget_ms=100), route(sim, "fast")], breakers, decisions)
    started = time.perf_counter()

    answered = await answer(router)

    elapsed_s = time.perf_counter() - started
    assert text_of(answered.chunks) == REPLY
    assert answered.route == "openai_compatible/fast"
    assert actions(decisions) == [
        ("selected", slow),
        ("hedged", "fast"),
        ("won", "fast"),
        ("cancelled", slow),
    ]
    assert elapsed_s < 1.0
    loser = await sim.wait_for_request(lambda r: r["model"] == slow and r["outcome"] != "running")
    assert loser["outcome"] == "client_closed"
    assert not route_tasks()
    # A hedged loser says nothing about its health.
    assert breakers.get(breaker_key("llm", router.routes[0])).consecutive_failures == 0


async def test_a_hedged_primary_still_wins_when_it_speaks_first(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    primary, backup = "slow-first-token:200", "slow-first-token:3000"
    router = llm_router(
        [route(sim, primary, budget_ms=50), route(sim, backup)], breakers, decisions
    )

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == f"openai_compatible/{primary}"
    assert ("cancelled", backup) in actions(decisions)
    loser = await sim.wait_for_request(lambda r: r["model"] == backup and r["outcome"] != "running")
    assert loser["outcome"] == "client_closed"


async def test_a_failing_hedge_leaves_the_slow_route_to_answer(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    slow = "slow-first-token:300"
    router = llm_router(
        [route(sim, slow, budget_ms=50), route(sim, "fail-500")], breakers, decisions
    )

    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == f"openai_compatible/{slow}"
    assert actions(decisions) == [
        ("selected", slow),
        ("hedged", "fail-500"),
        ("failed", "fail-500"),
        ("won", slow),
    ]


# -- circuit breakers -----------------------------------------------------------------------


async def test_breaker_opens_after_repeated_failures_and_the_route_is_skipped(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [route(sim, "fail-500"), route(sim, "backup")]

    for _ in range(2):
        await answer(llm_router(routes, breakers, decisions))
    decisions.clear()
    answered = await answer(llm_router(routes, breakers, decisions))

    assert text_of(answered.chunks) == REPLY
    assert decisions[0].action == "breaker_open"
    assert decisions[0].route == "openai_compatible/fail-500"
    assert "retry in 30.0 s" in decisions[0].reason
    assert await sim.counts() == {"fail-500": 2, "backup": 3}


async def test_breaker_probes_after_the_cooldown_and_closes_on_success(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    clock: FakeClock,
    decisions: list[RouteDecision],
) -> None:
    flaky = "fail-first:2"
    routes = [route(sim, flaky), route(sim, "backup")]
    for _ in range(3):
        await answer(llm_router(routes, breakers, decisions))
    key = breaker_key("llm", routes[0])
    assert breakers.states()[key] is BreakerState.OPEN

    clock.now_s += 30
    assert breakers.states()[key] is BreakerState.HALF_OPEN
    router = llm_router(routes, breakers, decisions)
    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == f"openai_compatible/{flaky}"
    assert breakers.states()[key] is BreakerState.CLOSED
    assert await sim.counts() == {flaky: 3, "backup": 3}


async def test_a_failed_probe_reopens_the_breaker(
    sim: SimulatorProcess,
    breakers: BreakerRegistry,
    clock: FakeClock,
    decisions: list[RouteDecision],
) -> None:
    routes = [route(sim, "fail-500"), route(sim, "backup")]
    for _ in range(2):
        await answer(llm_router(routes, breakers, decisions))
    clock.now_s += 30

    await answer(llm_router(routes, breakers, decisions))
    decisions.clear()
    await answer(llm_router(routes, breakers, decisions))

    assert breakers.get(breaker_key("llm", routes[0])).state is BreakerState.OPEN
    assert decisions[0].action == "breaker_open"
    assert await sim.counts() == {"fail-500": 3, "backup": 4}


async def test_bad_requests_do_not_count_against_a_route(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [route(sim, "fail-400"), route(sim, "backup")]

    for _ in range(3):
        await answer(llm_router(routes, breakers, decisions))

    assert breakers.get(breaker_key("llm", routes[0])).state is BreakerState.CLOSED
    assert await sim.counts() == {"fail-400": 3, "backup": 3}


def keyed(sim: SimulatorProcess, model: str, api_key: str) -> RouteConfig:
    """Two organizations' routes to one model at one server, each with its own key."""
    return RouteConfig(
        provider="openai_compatible", model=model, base_url=sim.base_url, api_key=api_key
    )


async def test_one_organizations_failures_leave_anothers_circuit_closed(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    # The model's first two requests fail (alpha's own rate limit, say); later ones succeed.
    alpha, beta = keyed(sim, "fail-first:2", "sk-alpha-key"), keyed(sim, "fail-first:2", "sk-beta")
    for _ in range(2):
        await answer(llm_router([alpha, route(sim, "backup")], breakers, decisions))
    assert breakers.get(breaker_key("llm", alpha)).state is BreakerState.OPEN

    decisions.clear()
    router = llm_router([beta, route(sim, "backup")], breakers, decisions)
    answered = await answer(router)

    assert text_of(answered.chunks) == REPLY
    assert answered.route == "openai_compatible/fail-first:2"
    assert breakers.get(breaker_key("llm", beta)).state is BreakerState.CLOSED
    assert actions(decisions) == [("selected", "fail-first:2"), ("won", "fail-first:2")]
    assert [r["authorization"] for r in await sim.requests() if r["outcome"] == "completed"][
        -1
    ] == "Bearer sk-beta"


async def test_a_refused_key_fails_over_without_opening_the_circuit(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    refused = keyed(sim, "fail-401", "sk-alpha-wrong-key")

    for _ in range(3):
        answered = await answer(llm_router([refused, route(sim, "backup")], breakers, decisions))
        assert text_of(answered.chunks) == REPLY

    breaker = breakers.get(breaker_key("llm", refused))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert await sim.counts() == {"fail-401": 3, "backup": 3}
    assert "breaker_open" not in {d.action for d in decisions}


def test_breakers_are_named_by_a_fingerprint_never_by_the_key(breakers: BreakerRegistry) -> None:
    secret = "sk-alpha-" + "s3cr3t" * 6
    alpha = RouteConfig(
        provider="openai", model="gpt-4o", base_url="https://a.test", api_key=secret
    )
    same_key_elsewhere = RouteConfig(provider="openai", model="gpt-4o", api_key=secret)
    platform = RouteConfig(provider="openai", model="gpt-4o")

    keys = {breaker_key("llm", r) for r in (alpha, same_key_elsewhere, platform)}
    breakers.get(breaker_key("llm", alpha))

    assert len(keys) == 3
    assert all(key.startswith("llm:openai/gpt-4o#") for key in keys)
    assert not any(secret in key or "a.test" in key for key in keys)
    assert not any(secret in key for key in breakers.states())


# -- cancellation ---------------------------------------------------------------------------


async def test_cancelling_the_consumer_cancels_every_route_in_flight(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    slow_a, slow_b = "slow-first-token:3000", "slow-first-token:3001"
    router = llm_router([route(sim, slow_a, budget_ms=50), route(sim, slow_b)], breakers, decisions)
    task = asyncio.create_task(answer(router))
    await sim.wait_for_request(lambda r: r["model"] == slow_b)

    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel_ms = (time.perf_counter() - started) * 1000

    assert cancel_ms < 200, f"cancellation took {cancel_ms:.1f} ms"
    assert not route_tasks()
    for model in (slow_a, slow_b):
        record = await sim.wait_for_request(
            lambda r, m=model: r["model"] == m and r["outcome"] != "running"  # type: ignore[misc]
        )
        assert record["outcome"] == "client_closed"
    assert ("cancelled", slow_a) in actions(decisions)
    assert ("cancelled", slow_b) in actions(decisions)


async def test_cancelling_mid_answer_stops_the_winning_stream(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    model = "slow-talker+inter-token:300"
    router = llm_router([route(sim, model)], breakers, decisions)
    heard = asyncio.Event()

    async def listen() -> None:
        async for chunk in router.stream(QUESTION):
            if isinstance(chunk, TextDelta):
                heard.set()

    task = asyncio.create_task(listen())
    await heard.wait()
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel_ms = (time.perf_counter() - started) * 1000

    assert cancel_ms < 200, f"cancellation took {cancel_ms:.1f} ms"
    assert not route_tasks()
    record = await sim.wait_for_request(lambda r: r["model"] == model and r["outcome"] != "running")
    assert record["outcome"] == "client_closed"


async def test_closing_the_stream_early_cancels_the_route(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    model = "barge-in+inter-token:300"
    router = llm_router([route(sim, model)], breakers, decisions)
    stream = router.stream(QUESTION)

    first = await anext(stream)
    await stream.aclose()

    assert isinstance(first, TextDelta)
    assert not route_tasks()
    record = await sim.wait_for_request(lambda r: r["model"] == model and r["outcome"] != "running")
    assert record["outcome"] == "client_closed"


# -- STT and TTS ----------------------------------------------------------------------------


def speech_route(sim: SimulatorProcess, model: str) -> RouteConfig:
    return RouteConfig(provider="openai_compatible", model=model, base_url=sim.base_url)


def one_second() -> np.ndarray:
    return (np.sin(np.arange(16_000) / 5) * 5_000).astype(np.int16)


async def test_stt_fails_over_to_the_next_route(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [speech_route(sim, "fail-500"), speech_route(sim, "whisper-1")]
    router = STTRouter(routes, breakers=breakers, on_decision=decisions.append)

    transcript = await router.transcribe(TranscriptionRequest(one_second(), language="en"))

    assert transcript.text == TRANSCRIPT
    assert transcript.route == "openai_compatible/whisper-1"
    assert actions(decisions) == [
        ("selected", "fail-500"),
        ("failed", "fail-500"),
        ("selected", "whisper-1"),
        ("won", "whisper-1"),
    ]
    assert all(d.stage == "stt" for d in decisions)


async def test_stt_rejects_bad_audio_without_trying_routes(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [speech_route(sim, "whisper-1"), speech_route(sim, "backup")]
    router = STTRouter(routes, breakers=breakers, on_decision=decisions.append)

    with pytest.raises(AudioFormatError):
        await router.transcribe(TranscriptionRequest(np.zeros(0, dtype=np.int16)))

    assert await sim.counts() == {}
    assert breakers.get(breaker_key("stt", routes[0])).consecutive_failures == 0


async def test_stt_all_routes_failing_lists_reasons(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [speech_route(sim, "fail-500"), speech_route(sim, "fail-429")]
    router = STTRouter(routes, breakers=breakers, on_decision=decisions.append)

    with pytest.raises(RoutesExhaustedError) as caught:
        await router.transcribe(TranscriptionRequest(one_second()))

    assert [f.route for f in caught.value.failures] == [
        "openai_compatible/fail-500",
        "openai_compatible/fail-429",
    ]


async def test_tts_fails_over_before_the_first_audio(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [speech_route(sim, "fail-503"), speech_route(sim, "tts-1")]
    router = TTSRouter(routes, breakers=breakers, on_decision=decisions.append)

    stream = router.synthesize("Opening hours are nine to five.")
    chunks = [chunk async for chunk in stream]

    assert chunks
    assert {chunk.sample_rate_hz for chunk in chunks} == {24_000}
    assert sum(chunk.samples.size for chunk in chunks) > 24_000
    assert stream.answered_label == "openai_compatible/tts-1"
    assert actions(decisions) == [
        ("selected", "fail-503"),
        ("failed", "fail-503"),
        ("selected", "tts-1"),
        ("won", "tts-1"),
    ]


async def test_tts_does_not_fail_over_after_audio_was_sent(
    sim: SimulatorProcess, breakers: BreakerRegistry, decisions: list[RouteDecision]
) -> None:
    routes = [speech_route(sim, "stop-halfway"), speech_route(sim, "tts-1")]
    router = TTSRouter(routes, breakers=breakers, on_decision=decisions.append)
    received: list[TTSChunk] = []

    with pytest.raises(ProviderError):
        await drain(router.synthesize("Opening hours are nine to five."), into=received)

    assert sum(chunk.samples.size for chunk in received) > 0
    assert await sim.counts() == {"stop-halfway": 1}
    assert actions(decisions)[-1] == ("failed", "stop-halfway")
