"""OpenAITTS through the real openai SDK against the simulator process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from bench.simulator_audio import SPEECH_CHUNK_BYTES, SPEECH_MS_PER_CHARACTER, tone_pcm16
from voice.engine.errors import ProviderError
from voice.engine.net.openai_client import OpenAIEndpoint
from voice.engine.tts.openai import OpenAITTS
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

CLAUSE = "The weather in Paris is mild today."


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator() as sim:
        yield sim


async def drain(stream: AsyncIterator[np.ndarray], *, into: list[np.ndarray]) -> None:
    """Collect chunks into `into`, so they are kept when the stream raises."""
    async for chunk in stream:
        into.append(chunk)


def tts(simulator: SimulatorProcess, model: str = "gpt-4o-mini-tts") -> OpenAITTS:
    return OpenAITTS(
        endpoint=OpenAIEndpoint(
            provider="openai", model=model, api_key="k", base_url=simulator.base_url
        )
    )


async def test_streams_the_whole_clause_as_24khz_int16(simulator: SimulatorProcess) -> None:
    chunks = [chunk async for chunk in tts(simulator).synthesize(CLAUSE, voice="alloy")]

    audio = np.concatenate(chunks)
    expected = np.frombuffer(tone_pcm16(len(CLAUSE) * SPEECH_MS_PER_CHARACTER), dtype="<i2")
    assert tts(simulator).sample_rate_hz == 24_000
    assert all(chunk.dtype == np.int16 for chunk in chunks)
    assert len(chunks) > 1
    # The simulator sends odd-sized network chunks: samples split across them must be rejoined.
    assert SPEECH_CHUNK_BYTES % 2 == 1
    np.testing.assert_array_equal(audio, expected)


async def test_blank_text_makes_no_request(simulator: SimulatorProcess) -> None:
    await simulator.reset()

    chunks = [chunk async for chunk in tts(simulator).synthesize("   ")]

    assert chunks == []
    assert await simulator.requests() == []


async def test_server_errors_become_provider_errors(simulator: SimulatorProcess) -> None:
    with pytest.raises(ProviderError) as caught:
        _ = [chunk async for chunk in tts(simulator, "fail-503").synthesize(CLAUSE)]

    assert caught.value.status_code == 503
    assert caught.value.retryable


async def test_a_stream_cut_halfway_is_a_retryable_error_after_some_audio(
    simulator: SimulatorProcess,
) -> None:
    received: list[np.ndarray] = []

    with pytest.raises(ProviderError) as caught:
        await drain(tts(simulator, "stop-halfway").synthesize(CLAUSE), into=received)

    assert caught.value.retryable
    assert received


async def test_cancelling_stops_the_download_at_once(simulator: SimulatorProcess) -> None:
    await simulator.reset()
    model = "tts-cancel+inter-token:500"
    got_audio = asyncio.Event()

    async def consume() -> None:
        async for _ in tts(simulator, model).synthesize(CLAUSE):
            got_audio.set()

    task = asyncio.create_task(consume())
    await got_audio.wait()
    started = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancel_ms = (time.perf_counter() - started) * 1000

    record = await simulator.wait_for_request(lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"
    assert cancel_ms < 50, f"cancellation took {cancel_ms:.1f} ms"
