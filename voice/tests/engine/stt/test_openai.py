"""OpenAISTT through the real openai SDK against the simulator process."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from voice.engine.errors import AudioFormatError, ProviderError
from voice.engine.net.openai_client import OpenAIEndpoint
from voice.engine.stt.base import TranscriptionHints, TranscriptionRequest
from voice.engine.stt.openai import OpenAISTT
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

TRANSCRIPT = "turn the lights off in the kitchen"


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(transcript=TRANSCRIPT) as sim:
        yield sim


def stt(simulator: SimulatorProcess, model: str = "gpt-4o-mini-transcribe") -> OpenAISTT:
    return OpenAISTT(
        endpoint=OpenAIEndpoint(
            provider="openai", model=model, api_key="k", base_url=simulator.base_url
        )
    )


def one_second_of_tone() -> np.ndarray:
    phase = 2 * np.pi * 300 * np.arange(16_000) / 16_000
    return (np.sin(phase) * 8_000).astype(np.int16)


async def test_uploads_a_16khz_wav_and_returns_the_transcript(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()

    transcript = await stt(simulator).transcribe(
        TranscriptionRequest(one_second_of_tone(), language="en")
    )

    assert transcript.text == TRANSCRIPT
    assert transcript.language == "en"
    assert transcript.audio_duration_s == pytest.approx(1.0)
    [record] = await simulator.requests()
    assert record["path"] == "/v1/audio/transcriptions"
    assert record["detail"]["sample_rate_hz"] == 16_000
    assert record["detail"]["channels"] == 1
    assert record["detail"]["sample_width"] == 2
    assert record["detail"]["duration_s"] == pytest.approx(1.0)
    assert record["detail"]["language"] == "en"


async def test_the_vocabulary_and_prompt_go_as_openais_prompt(simulator: SimulatorProcess) -> None:
    await simulator.reset()
    hints = TranscriptionHints(terms=("Quorvex", "Zyntrava"), prompt="A support call.")

    await stt(simulator).transcribe(
        TranscriptionRequest(one_second_of_tone(), language="en", hints=hints)
    )

    [record] = await simulator.requests()
    assert record["detail"]["prompt"] == "A support call. Quorvex, Zyntrava."


async def test_without_hints_no_prompt_is_sent(simulator: SimulatorProcess) -> None:
    await simulator.reset()

    await stt(simulator).transcribe(TranscriptionRequest(one_second_of_tone()))

    [record] = await simulator.requests()
    assert record["detail"]["prompt"] is None
    assert record["detail"]["language"] is None


async def test_language_is_optional(simulator: SimulatorProcess) -> None:
    transcript = await stt(simulator, "say:bonjour").transcribe(
        TranscriptionRequest(one_second_of_tone())
    )

    assert transcript.text == "bonjour"
    assert transcript.language is None


@pytest.mark.parametrize(("model", "retryable"), [("fail-500", True), ("fail-401", False)])
async def test_server_errors_become_provider_errors(
    simulator: SimulatorProcess, model: str, retryable: bool
) -> None:
    with pytest.raises(ProviderError) as caught:
        await stt(simulator, model).transcribe(TranscriptionRequest(one_second_of_tone()))

    assert caught.value.retryable is retryable


async def test_empty_audio_is_rejected_before_any_request(simulator: SimulatorProcess) -> None:
    await simulator.reset()

    with pytest.raises(AudioFormatError, match="empty"):
        await stt(simulator).transcribe(TranscriptionRequest(np.zeros(0, dtype=np.int16)))

    assert await simulator.requests() == []


async def test_samples_of_the_wrong_type_are_rejected(simulator: SimulatorProcess) -> None:
    with pytest.raises(AudioFormatError, match="int16"):
        await stt(simulator).transcribe(TranscriptionRequest(np.zeros(100, dtype=np.float32)))
