"""OpenAICompatibleLLM through the real openai SDK against the simulator process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from core.processes import free_port
from voice.engine.config import ToolSpec
from voice.engine.errors import InvalidRequestError, ProviderError
from voice.engine.llm.base import (
    ChatMessage,
    Finish,
    LLMChunk,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallDelta,
)
from voice.engine.llm.openai_compatible import OpenAICompatibleLLM
from voice.engine.net.openai_client import OpenAIEndpoint
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

REPLY = "Paris is the capital of France."
WEATHER_TOOL = ToolSpec(
    name="get_weather",
    description="Current weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
QUESTION = LLMRequest(messages=(ChatMessage("user", "What is the capital of France?"),))


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(reply=REPLY) as sim:
        yield sim


def llm(
    simulator: SimulatorProcess, model: str, *, timeout_s: float = 30.0, **options: object
) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(
        endpoint=OpenAIEndpoint(
            provider="openai_compatible",
            model=model,
            api_key="test-key",
            base_url=simulator.base_url,
            timeout_s=timeout_s,
        ),
        **options,  # type: ignore[arg-type]
    )


async def collect(model: OpenAICompatibleLLM, request: LLMRequest = QUESTION) -> list[LLMChunk]:
    return [chunk async for chunk in model.stream(request)]


async def drain(stream: AsyncIterator[LLMChunk], *, into: list[LLMChunk]) -> None:
    """Collect chunks into `into`, so they are kept when the stream raises."""
    async for chunk in stream:
        into.append(chunk)


def text_of(chunks: list[LLMChunk]) -> str:
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextDelta))


async def test_streams_text_then_a_finish_with_usage(simulator: SimulatorProcess) -> None:
    chunks = await collect(llm(simulator, "gpt-test"))

    assert text_of(chunks) == REPLY
    assert len([c for c in chunks if isinstance(c, TextDelta)]) == len(REPLY.split())
    finish = chunks[-1]
    assert isinstance(finish, Finish)
    assert finish.reason == "stop"
    assert finish.usage.completion_tokens == len(REPLY.split())
    assert finish.usage.prompt_tokens == len(QUESTION.messages[0].content.split())


async def test_sends_tools_limits_and_temperature_in_openai_format(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()
    model = llm(simulator, "gpt-params", max_output_tokens=64, temperature=0.2)
    request = LLMRequest(messages=QUESTION.messages, tools=(WEATHER_TOOL,), tool_choice="auto")

    await collect(model, request)

    [record] = await simulator.requests()
    assert record["detail"]["tools"] == ["get_weather"]
    assert record["detail"]["tool_choice"] == "auto"
    assert record["detail"]["max_tokens"] == 64
    assert record["detail"]["temperature"] == 0.2


async def test_openai_flavour_sends_max_completion_tokens(simulator: SimulatorProcess) -> None:
    await simulator.reset()
    model = llm(simulator, "gpt-new", max_tokens_parameter="max_completion_tokens")

    await collect(model, LLMRequest(messages=QUESTION.messages, max_output_tokens=32))

    [record] = await simulator.requests()
    assert record["detail"]["max_completion_tokens"] == 32
    assert "max_tokens" not in record["detail"]


async def test_streams_a_tool_call_in_pieces_that_join_to_the_arguments(
    simulator: SimulatorProcess,
) -> None:
    arguments = json.dumps({"city": "Paris", "unit": "celsius"})
    request = LLMRequest(messages=QUESTION.messages, tools=(WEATHER_TOOL,))

    chunks = await collect(llm(simulator, f"tool-call:get_weather:{arguments}"), request)

    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert len(deltas) > 2
    assert {d.index for d in deltas} == {0}
    assert deltas[0].name == "get_weather"
    assert deltas[0].id is not None
    assert deltas[0].id.startswith("call_")
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "Paris", "unit": "celsius"}
    assert text_of(chunks) == ""
    assert isinstance(chunks[-1], Finish)
    assert chunks[-1].reason == "tool_calls"


async def test_answers_with_text_once_the_tool_result_is_in_the_conversation(
    simulator: SimulatorProcess,
) -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    request = LLMRequest(
        messages=(
            *QUESTION.messages,
            ChatMessage("assistant", tool_calls=(call,)),
            ChatMessage("tool", '{"temperature_c": 18}', tool_call_id="call_1"),
        ),
        tools=(WEATHER_TOOL,),
    )

    chunks = await collect(llm(simulator, 'tool-call:get_weather:{"city": "Paris"}'), request)

    assert text_of(chunks) == 'The tool said: {"temperature_c": 18}'
    assert isinstance(chunks[-1], Finish)
    assert chunks[-1].reason == "stop"


@pytest.mark.parametrize(
    ("model", "status", "retryable"),
    [("fail-500", 500, True), ("fail-503", 503, True), ("fail-429", 429, True),
     ("fail-400", 400, False), ("fail-401", 401, False), ("fail-404", 404, False)],
)  # fmt: skip
async def test_http_errors_become_provider_errors_that_say_whether_to_retry(
    simulator: SimulatorProcess, model: str, status: int, retryable: bool
) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, model))

    assert caught.value.status_code == status
    assert caught.value.retryable is retryable
    assert caught.value.provider == "openai_compatible"
    assert str(status) in caught.value.message


async def test_rate_limit_has_its_own_code(simulator: SimulatorProcess) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, "fail-429"))

    assert caught.value.code == "rate_limited"


async def test_unreachable_server_is_a_retryable_error() -> None:
    model = OpenAICompatibleLLM(
        endpoint=OpenAIEndpoint(
            provider="openai_compatible",
            model="m",
            api_key="k",
            base_url=f"http://127.0.0.1:{free_port()}/v1",
        )
    )

    with pytest.raises(ProviderError) as caught:
        await collect(model)

    assert caught.value.retryable
    assert caught.value.code == "provider_unreachable"


async def test_a_silent_server_times_out_with_a_retryable_error(
    simulator: SimulatorProcess,
) -> None:
    started = time.perf_counter()

    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, "slow-first-token:2000", timeout_s=0.2))

    assert caught.value.code == "provider_timeout"
    assert caught.value.retryable
    assert time.perf_counter() - started < 1.0


async def test_a_stream_that_stops_halfway_yields_its_text_then_fails(
    simulator: SimulatorProcess,
) -> None:
    chunks: list[LLMChunk] = []

    with pytest.raises(ProviderError) as caught:
        await drain(llm(simulator, "stop-halfway").stream(QUESTION), into=chunks)

    assert caught.value.code == "incomplete_stream"
    assert caught.value.retryable
    assert REPLY.startswith(text_of(chunks))
    assert 0 < len(text_of(chunks)) < len(REPLY)
    assert not any(isinstance(chunk, Finish) for chunk in chunks)


async def test_garbage_events_are_a_clear_provider_error(simulator: SimulatorProcess) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, "garbage"))

    assert caught.value.code == "invalid_provider_response"
    assert "not JSON" in caught.value.message


async def test_events_of_the_wrong_shape_are_a_clear_provider_error(
    simulator: SimulatorProcess,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, "wrong-shape"))

    assert caught.value.code == "invalid_provider_response"
    assert "not an object" in caught.value.message


async def test_an_error_event_mid_stream_is_a_retryable_provider_error(
    simulator: SimulatorProcess,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, "error-event"))

    assert caught.value.retryable
    assert "overloaded" in caught.value.message


async def test_tool_arguments_that_are_not_json_are_rejected_at_the_end(
    simulator: SimulatorProcess,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(llm(simulator, 'tool-call:get_weather:{"city": Par'))

    assert caught.value.code == "invalid_tool_arguments"
    assert not caught.value.retryable
    assert "get_weather" in caught.value.message


async def test_tool_arguments_must_be_an_object(simulator: SimulatorProcess) -> None:
    with pytest.raises(ProviderError, match="not a JSON object"):
        await collect(llm(simulator, "tool-call:get_weather:[1, 2]"))


async def test_a_tool_message_without_its_call_id_is_an_invalid_request(
    simulator: SimulatorProcess,
) -> None:
    request = LLMRequest(messages=(ChatMessage("tool", "18 degrees"),))

    with pytest.raises(InvalidRequestError, match="tool_call_id"):
        await collect(llm(simulator, "gpt-test"), request)


async def test_cancelling_mid_answer_closes_the_http_stream_at_once(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()
    model = "gpt-cancel+inter-token:500"
    first_text = asyncio.Event()

    async def consume() -> None:
        async for chunk in llm(simulator, model).stream(QUESTION):
            if isinstance(chunk, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume())
    await first_text.wait()
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel_ms = (time.perf_counter() - started) * 1000

    record = await simulator.wait_for_request(
        lambda r: r["model"] == model and r["outcome"] != "running"
    )
    assert record["outcome"] == "client_closed"
    assert record["tokens_sent"] < len(REPLY.split())
    assert cancel_ms < 50, f"cancellation took {cancel_ms:.1f} ms"


async def test_cancelling_before_the_first_token_closes_the_request(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()
    model = "gpt-cancel-early+slow-first-token:3000"
    task = asyncio.create_task(collect(llm(simulator, model)))
    await simulator.wait_for_request(lambda r: r["model"] == model)

    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel_ms = (time.perf_counter() - started) * 1000

    record = await simulator.wait_for_request(
        lambda r: r["model"] == model and r["outcome"] != "running"
    )
    assert record["outcome"] == "client_closed"
    assert cancel_ms < 50, f"cancellation took {cancel_ms:.1f} ms"


async def test_closing_the_generator_early_closes_the_http_stream(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()
    model = "gpt-close-early+inter-token:300"
    stream = llm(simulator, model).stream(QUESTION)

    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]

    assert isinstance(first, TextDelta)
    record = await simulator.wait_for_request(
        lambda r: r["model"] == model and r["outcome"] != "running", timeout_s=0.25
    )
    assert record["outcome"] == "client_closed"
