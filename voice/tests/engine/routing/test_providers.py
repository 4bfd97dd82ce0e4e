"""providers.py: which provider a route builds, where its key comes from, when it is unusable."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from voice.engine.config import RouteConfig
from voice.engine.errors import ProviderUnavailableError
from voice.engine.llm.base import ChatMessage, LLMRequest, TextDelta
from voice.engine.llm.openai_compatible import OpenAICompatibleLLM
from voice.engine.routing.providers import (
    GROK_BASE_URL,
    llm_from_route,
    stt_from_route,
    tts_from_route,
)
from voice.engine.stt.base import TranscriptionRequest
from voice.engine.stt.openai import OpenAISTT
from voice.engine.tts.openai import OpenAITTS
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

QUESTION = LLMRequest(messages=(ChatMessage("user", "hello?"),))


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(reply="Hi there.", transcript="hello") as sim:
        yield sim


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OPENAI_API_KEY", "XAI_API_KEY", "XAI_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)


async def reply_text(route: RouteConfig) -> str:
    chunks = [chunk async for chunk in llm_from_route(route).stream(QUESTION)]
    return "".join(chunk.text for chunk in chunks if isinstance(chunk, TextDelta))


async def test_openai_route_talks_openai_and_caps_with_max_completion_tokens(
    simulator: SimulatorProcess,
) -> None:
    await simulator.reset()
    route = RouteConfig(
        provider="openai",
        model="gpt-4o-mini",
        base_url=simulator.base_url,
        api_key="sk-test",
        max_output_tokens=50,
        temperature=0.3,
    )

    assert await reply_text(route) == "Hi there."

    [record] = await simulator.requests()
    assert record["model"] == "gpt-4o-mini"
    assert record["detail"]["max_completion_tokens"] == 50
    assert record["detail"]["temperature"] == 0.3


def test_openai_route_without_a_key_is_unavailable_and_says_where_to_put_one() -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        llm_from_route(RouteConfig(provider="openai", model="gpt-4o-mini"))

    assert caught.value.code == "missing_api_key"
    assert "OPENAI_API_KEY" in caught.value.message


def test_openai_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")

    provider = llm_from_route(RouteConfig(provider="openai", model="gpt-4o-mini"))

    assert isinstance(provider, OpenAICompatibleLLM)
    assert provider.provider == "openai"
    # None lets the SDK pick OPENAI_BASE_URL or api.openai.com.
    assert provider.base_url is None


def test_grok_defaults_to_xai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-env")

    provider = llm_from_route(RouteConfig(provider="grok", model="grok-3-mini"))

    assert isinstance(provider, OpenAICompatibleLLM)
    assert provider.base_url == GROK_BASE_URL == "https://api.x.ai/v1"


async def test_grok_base_url_is_configurable_and_uses_max_tokens(
    simulator: SimulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await simulator.reset()
    monkeypatch.setenv("XAI_API_KEY", "xai-env")
    monkeypatch.setenv("XAI_BASE_URL", simulator.base_url)

    route = RouteConfig(provider="grok", model="grok-3-mini", max_output_tokens=20)
    assert await reply_text(route) == "Hi there."

    [record] = await simulator.requests()
    assert record["detail"]["max_tokens"] == 20


def test_grok_without_a_key_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailableError, match="XAI_API_KEY"):
        llm_from_route(RouteConfig(provider="grok", model="grok-3-mini"))


FACTORIES = [llm_from_route, stt_from_route, tts_from_route]


@pytest.mark.parametrize(
    ("factory", "provider"),
    [(factory, "openai") for factory in FACTORIES] + [(llm_from_route, "grok")],
)
def test_a_route_with_its_own_base_url_never_gets_the_operators_key(
    factory: object, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator")
    monkeypatch.setenv("XAI_API_KEY", "xai-operator")
    route = RouteConfig(provider=provider, model="m", base_url="https://models.tenant.example/v1")

    with pytest.raises(ProviderUnavailableError) as caught:
        factory(route)  # type: ignore[operator]

    assert caught.value.code == "missing_api_key"
    assert "operator" not in caught.value.message


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("base_url", [None, "https://models.tenant.example/v1"])
def test_an_unreadable_stored_key_makes_the_route_unavailable(
    factory: object, base_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator")
    route = RouteConfig(provider="openai", model="m", base_url=base_url, key_fallback="unreadable")

    with pytest.raises(ProviderUnavailableError) as caught:
        factory(route)  # type: ignore[operator]

    assert caught.value.code == "credential_unreadable"
    assert "store it again" in caught.value.message


def test_a_route_told_to_take_no_fallback_key_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator")

    with pytest.raises(ProviderUnavailableError) as caught:
        llm_from_route(RouteConfig(provider="openai", model="m", key_fallback="none"))

    assert caught.value.code == "missing_api_key"


async def test_a_route_with_its_own_key_and_host_sends_that_key_there(
    simulator: SimulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await simulator.reset()
    monkeypatch.setenv("XAI_API_KEY", "xai-operator")
    route = RouteConfig(
        provider="grok", model="grok-3-mini", base_url=simulator.base_url, api_key="xai-tenant"
    )

    assert await reply_text(route) == "Hi there."

    [record] = await simulator.requests()
    assert record["authorization"] == "Bearer xai-tenant"


async def test_openai_compatible_needs_no_key(simulator: SimulatorProcess) -> None:
    route = RouteConfig(provider="openai_compatible", model="llama3", base_url=simulator.base_url)

    assert await reply_text(route) == "Hi there."


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        llm_from_route(RouteConfig(provider="openai_compatible", model="llama3"))

    assert caught.value.code == "missing_url"


def test_an_unknown_provider_is_unavailable_and_lists_the_known_ones() -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        llm_from_route(RouteConfig(provider="anthropic", model="claude"))

    assert caught.value.code == "unknown_provider"
    assert "openai_compatible" in caught.value.message


@pytest.mark.parametrize("factory", [stt_from_route, tts_from_route])
def test_grok_has_no_speech_routes(factory: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-env")

    with pytest.raises(ProviderUnavailableError) as caught:
        factory(RouteConfig(provider="grok", model="grok-voice"))  # type: ignore[operator]

    assert caught.value.code == "unsupported_stage"


async def test_speech_routes_build_working_openai_speech_providers(
    simulator: SimulatorProcess,
) -> None:
    stt_route = RouteConfig(
        provider="openai", model="whisper-1", base_url=simulator.base_url, api_key="sk"
    )
    tts_route = RouteConfig(
        provider="openai", model="tts-1", base_url=simulator.base_url, api_key="sk"
    )

    stt = stt_from_route(stt_route)
    tts = tts_from_route(tts_route)

    assert isinstance(stt, OpenAISTT)
    assert isinstance(tts, OpenAITTS)
    transcript = await stt.transcribe(TranscriptionRequest(np.full(8_000, 100, dtype=np.int16)))
    assert transcript.text == "hello"
    audio = [chunk async for chunk in tts.synthesize("Hello.", voice="alloy")]
    assert sum(chunk.size for chunk in audio) == 24_000 * len("Hello.") * 40 // 1000


@pytest.mark.models
def test_local_routes_build_the_embedded_models_once_per_process() -> None:
    from voice.engine.llm.llama_cpp import LlamaCppLLM
    from voice.engine.stt.local_whisper import LocalWhisperSTT
    from voice.engine.tts.piper import PiperTTS

    llm = llm_from_route(RouteConfig(provider="local", model="gemma3-270m"))
    stt = stt_from_route(RouteConfig(provider="local", model="tiny.en"))
    tts = tts_from_route(RouteConfig(provider="local", model="en_US-joe-medium"))

    assert isinstance(llm, LlamaCppLLM)
    assert isinstance(stt, LocalWhisperSTT)
    assert isinstance(tts, PiperTTS)
    assert {llm.provider, stt.provider, tts.provider} == {"local"}
    assert llm_from_route(RouteConfig(provider="local", model="gemma3-270m")) is llm
    assert stt_from_route(RouteConfig(provider="local", model="tiny.en")) is stt
