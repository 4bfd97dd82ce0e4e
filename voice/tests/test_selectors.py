import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django_tenants.utils import schema_context
from pytest_django.fixtures import Settings

from core.encryption import encrypt
from voice.engine.config import AgentConfig
from voice.engine.errors import AuraError, InvalidRequestError
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.engine.routing import LLMRouter, RoutesExhaustedError, STTRouter, TTSRouter
from voice.engine.routing.breaker import BreakerRegistry
from voice.engine.stt.base import TranscriptionRequest
from voice.models import Agent, ProviderCredential
from voice.realtime.resume import config_from_json, config_to_json
from voice.selectors import agent_config, agent_for_session, with_provider_keys
from voice.services import agent_create
from voice.tests.engine.simulator import SimulatorProcess, run_simulator


def test_a_new_organization_has_a_default_agent_on_the_local_models(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent = agent_for_session(None)
        config = agent_config(agent)
    assert agent.is_default
    assert config.llm_routes[0].provider == "local"
    assert config.turn_detection is not None


def test_agents_are_found_by_name_and_unknown_names_are_refused(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent_create(name="Sales", instructions="Sell kindly.")
        assert agent_config(agent_for_session("Sales")).instructions == "Sell kindly."
        with pytest.raises(InvalidRequestError, match="No agent named"):
            agent_for_session("Ghost")


def test_agents_of_one_organization_are_invisible_to_another(org_alpha, org_beta):
    with schema_context(org_alpha.schema_name):
        agent_create(name="Alpha-only")
    with schema_context(org_beta.schema_name):
        assert not Agent.objects.filter(name="Alpha-only").exists()
        with pytest.raises(InvalidRequestError):
            agent_for_session("Alpha-only")


def test_an_agent_with_bad_settings_is_not_saved(org_alpha):
    with schema_context(org_alpha.schema_name):
        with pytest.raises(InvalidRequestError, match="provider"):
            agent_create(name="Broken", llm_routes=[{"provider": "nope", "model": "x"}])
        with pytest.raises(InvalidRequestError, match="built-in tool"):
            agent_create(name="Broken", builtin_tools=["rm_rf"])
        assert not Agent.objects.filter(name="Broken").exists()


def test_only_one_agent_is_the_default(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent_create(name="New default", is_default=True)
        assert list(Agent.objects.filter(is_default=True).values_list("name", flat=True)) == [
            "New default"
        ]


# -- whose provider key goes where ----------------------------------------------------------
# A real local server stands in for the host an organization's route names; the operator's
# keys sit in the environment as in production. What the host receives is the proof.

OPERATOR_OPENAI_KEY = "sk-operator-" + "O" * 32
OPERATOR_XAI_KEY = "xai-operator-" + "X" * 32
ORGANIZATION_KEY = "sk-proj-alpha-" + "A" * 32


@pytest.fixture(scope="module")
def tenant_host() -> Iterator[SimulatorProcess]:
    with run_simulator(reply="Hi.", transcript="hello") as process:
        yield process


@pytest.fixture
def operator_keys(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_OPENAI_KEY)
    monkeypatch.setenv("XAI_API_KEY", OPERATOR_XAI_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("XAI_BASE_URL", raising=False)
    # The stand-in listens on loopback: allowed, as an operator allows a self-hosted server.
    settings.AURA_PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]


def _routes(base_url: str | None, provider: str = "openai") -> dict[str, list[dict[str, Any]]]:
    def route(model: str) -> list[dict[str, Any]]:
        return [
            {"provider": provider, "model": model} | ({"base_url": base_url} if base_url else {})
        ]

    speech = "openai"  # grok has no speech routes
    return {
        "llm_routes": route("gpt-4o-mini"),
        "stt_routes": [r | {"provider": speech} for r in route("whisper-1")],
        "tts_routes": [r | {"provider": speech} for r in route("tts-1")],
    }


async def _use_every_stage(config: AgentConfig) -> dict[str, AuraError | None]:
    """One LLM answer, one transcription and one synthesis; the error of each stage, if any."""
    breakers = BreakerRegistry()  # fresh: no other test's circuit state
    outcome: dict[str, AuraError | None] = {}

    async def llm() -> None:
        request = LLMRequest(messages=(ChatMessage("user", "hello"),))
        _ = [c async for c in LLMRouter(config.llm_routes, breakers=breakers).stream(request)]

    async def stt() -> None:
        await STTRouter(config.stt_routes, breakers=breakers).transcribe(
            TranscriptionRequest(np.full(8_000, 100, dtype=np.int16))
        )

    async def tts() -> None:
        router = TTSRouter(config.tts_routes, breakers=breakers)
        _ = [c async for c in router.synthesize("Hello.", voice="alloy")]

    for stage, use in (("llm", llm), ("stt", stt), ("tts", tts)):
        try:
            await use()
            outcome[stage] = None
        except AuraError as error:
            outcome[stage] = error
    return outcome


def _failure_codes(outcome: dict[str, AuraError | None]) -> dict[str, list[str]]:
    return {
        stage: [f.code for f in error.failures] if isinstance(error, RoutesExhaustedError) else []
        for stage, error in outcome.items()
    }


def _session_config(organization: Any, name: str, **routes: Any) -> AgentConfig:
    with schema_context(organization.schema_name):
        agent_create(name=name, **routes)
        return agent_config(agent_for_session(name))


def _resumed(organization: Any, config: AgentConfig) -> AgentConfig:
    """What a resumed session runs on: the snapshot (no keys) with the keys decided again."""
    with schema_context(organization.schema_name):
        return with_provider_keys(config_from_json(config_to_json(config)))


def _store_key(organization: Any, provider: str, api_key: str, *, readable: bool = True) -> None:
    # An unreadable key is one encrypted under another key (AURA_ENCRYPTION_KEY changed).
    other_key = Fernet(Fernet.generate_key())
    ciphertext = encrypt(api_key) if readable else other_key.encrypt(api_key.encode()).decode()
    with schema_context(organization.schema_name):
        ProviderCredential.objects.create(
            provider=provider,
            api_key_encrypted=ciphertext,
            key_hint=api_key[:3] + "…" + api_key[-4:],
        )


@pytest.mark.parametrize("provider", ["openai", "grok"])
def test_the_operators_keys_never_reach_an_organizations_own_host(
    org_alpha, tenant_host, operator_keys, provider
):
    asyncio.run(tenant_host.reset())
    config = _session_config(org_alpha, "Own host", **_routes(tenant_host.base_url, provider))

    for resumed in (False, True):
        used = _resumed(org_alpha, config) if resumed else config
        outcome = asyncio.run(_use_every_stage(used))

        assert _failure_codes(outcome) == {
            "llm": ["missing_api_key"],
            "stt": ["missing_api_key"],
            "tts": ["missing_api_key"],
        }
    assert asyncio.run(tenant_host.requests()) == []


def test_an_organizations_own_key_goes_to_its_own_host_for_every_stage(
    org_alpha, tenant_host, operator_keys
):
    asyncio.run(tenant_host.reset())
    _store_key(org_alpha, "openai", ORGANIZATION_KEY)
    config = _session_config(org_alpha, "Own key", **_routes(tenant_host.base_url))

    assert asyncio.run(_use_every_stage(config)) == {"llm": None, "stt": None, "tts": None}
    assert asyncio.run(_use_every_stage(_resumed(org_alpha, config))) == {
        "llm": None,
        "stt": None,
        "tts": None,
    }

    requests = asyncio.run(tenant_host.requests())
    assert len(requests) == 6
    assert {r["authorization"] for r in requests} == {f"Bearer {ORGANIZATION_KEY}"}


@pytest.mark.parametrize("own_host", [True, False])
def test_an_undecryptable_key_makes_the_routes_unavailable_never_the_operators_key(
    org_alpha, tenant_host, operator_keys, monkeypatch, own_host
):
    asyncio.run(tenant_host.reset())
    # Without a base_url the route goes to the operator's endpoint: the stand-in plays it too.
    monkeypatch.setenv("OPENAI_BASE_URL", tenant_host.base_url)
    _store_key(org_alpha, "openai", ORGANIZATION_KEY, readable=False)
    base_url = tenant_host.base_url if own_host else None
    config = _session_config(org_alpha, "Unreadable", **_routes(base_url))

    outcome = asyncio.run(_use_every_stage(_resumed(org_alpha, config)))

    assert _failure_codes(outcome) == {
        "llm": ["credential_unreadable"],
        "stt": ["credential_unreadable"],
        "tts": ["credential_unreadable"],
    }
    assert "store it again" in str(outcome["llm"])
    assert asyncio.run(tenant_host.requests()) == []


def test_routes_to_the_operators_endpoint_use_the_operators_key(
    org_alpha, org_beta, tenant_host, operator_keys, monkeypatch
):
    asyncio.run(tenant_host.reset())
    monkeypatch.setenv("OPENAI_BASE_URL", tenant_host.base_url)
    config = _session_config(org_beta, "Platform", **_routes(None))

    assert asyncio.run(_use_every_stage(config)) == {"llm": None, "stt": None, "tts": None}

    requests = asyncio.run(tenant_host.requests())
    assert {r["authorization"] for r in requests} == {f"Bearer {OPERATOR_OPENAI_KEY}"}
