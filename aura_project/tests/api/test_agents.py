"""voice/api/agents.py: create, read, change and delete agents through the services."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import problem
from voice.engine.errors import ProviderError
from voice.engine.llm.base import ChatMessage, LanguageModel, LLMRequest
from voice.engine.routing.providers import llm_from_route
from voice.models import Agent
from voice.realtime.resume import config_from_json, config_to_json
from voice.selectors import agent_config, agent_for_session

ROUTES = {
    "stt_routes": [{"provider": "local", "model": "tiny.en"}],
    "llm_routes": [
        {"provider": "openai", "model": "gpt-4o-mini", "first_token_budget_ms": 800},
        {"provider": "local", "model": "gemma3-270m"},
    ],
    "tts_routes": [{"provider": "local", "model": "en_US-joe-medium"}],
}


def test_an_agent_with_every_setting_is_stored_as_given(org_alpha, alpha):
    tool = alpha.post(
        "/api/v1/tools",
        {"name": "lookup_order", "url": "https://example.com/orders", "signing_secret": "s" * 32},
    ).json()
    body = {
        "name": "Support",
        "instructions": "You answer order questions.",
        "voice": "joe",
        "language": "en",
        **ROUTES,
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 700},
        "builtin_tools": ["get_current_time"],
        "webhook_tools": [tool["name"]],
        "max_output_tokens": 300,
        "memory_enabled": False,
    }
    response = alpha.post("/api/v1/agents", body)
    assert response.status_code == 201, response.content
    created = response.json()
    with schema_context(org_alpha.schema_name):
        agent = Agent.objects.get(pk=created["id"])
        assert agent.llm_routes[0]["model"] == "gpt-4o-mini"
        assert agent.turn_detection == {"type": "server_vad", "silence_duration_ms": 700}
        assert [t.name for t in agent.webhook_tools.all()] == ["lookup_order"]
        assert agent.memory_enabled is False
        assert agent.is_default is False
    assert alpha.get(f"/api/v1/agents/{created['id']}").json() == created


def test_no_agent_can_ask_for_its_audio_to_be_kept(org_alpha, alpha):
    """AURA stores no audio: the setting is gone, and asking for it is an error, not a no-op."""
    response = alpha.post("/api/v1/agents", {"name": "Keeper", "audio_retention": True})
    assert response.status_code == 400
    assert "audio_retention" in response.json()["errors"]
    with schema_context(org_alpha.schema_name):
        assert not Agent.objects.filter(name="Keeper").exists()
    plain = alpha.post("/api/v1/agents", {"name": "Plain", "audio_retention": False})
    assert plain.status_code == 201
    assert "audio_retention" not in plain.json()


def test_changing_an_agent_checks_it_again(org_alpha, alpha):
    agent = alpha.post("/api/v1/agents", {"name": "Sales"}).json()
    response = alpha.patch(f"/api/v1/agents/{agent['id']}", {"instructions": "Sell.", **ROUTES})
    assert response.status_code == 200
    assert response.json()["instructions"] == "Sell."
    problem(alpha.patch(f"/api/v1/agents/{agent['id']}", {"turn_detection": {"threshold": 7}}), 400)
    problem(alpha.patch(f"/api/v1/agents/{agent['id']}", {"name": "Assistant"}), 400)
    with schema_context(org_alpha.schema_name):
        assert Agent.objects.get(pk=agent["id"]).instructions == "Sell."


def test_the_default_agent_moves_and_cannot_be_deleted(org_alpha, alpha):
    default = alpha.get("/api/v1/agents", {"is_default": "true"}).json()["results"][0]
    problem(alpha.delete(f"/api/v1/agents/{default['id']}"), 400, "default_agent")
    problem(alpha.patch(f"/api/v1/agents/{default['id']}", {"is_default": False}), 400)
    other = alpha.post("/api/v1/agents", {"name": "Next"}).json()
    moved = alpha.patch(f"/api/v1/agents/{other['id']}", {"is_default": True})
    assert moved.status_code == 200, moved.content
    defaults = alpha.get("/api/v1/agents", {"is_default": "true"}).json()["results"]
    assert [agent["name"] for agent in defaults] == ["Next"]
    assert alpha.delete(f"/api/v1/agents/{default['id']}").status_code == 204
    with schema_context(org_alpha.schema_name):
        assert not Agent.objects.filter(pk=default["id"]).exists()


def test_agents_are_filtered_by_name(alpha):
    alpha.post("/api/v1/agents", {"name": "Billing bot"})
    alpha.post("/api/v1/agents", {"name": "Booking bot", "memory_enabled": False})
    names = [a["name"] for a in alpha.get("/api/v1/agents", {"name": "bot"}).json()["results"]]
    assert names == ["Billing bot", "Booking bot"]
    no_memory = alpha.get("/api/v1/agents", {"memory_enabled": "false", "name": "bot"}).json()[
        "results"
    ]
    assert [a["name"] for a in no_memory] == ["Booking bot"]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:11434/v1",
        "http://10.0.0.5/v1",
        "http://169.254.169.254/latest",
        "http://[::1]/v1",
        "http://ollama.internal/v1",
        "http://localhost:8000/v1",
    ],
)
def test_routes_may_not_point_inside(alpha, base_url, settings):
    route = {"provider": "openai_compatible", "model": "m", "base_url": base_url}
    problem(alpha.post("/api/v1/agents", {"name": "Probe", "llm_routes": [route]}), 400)
    agent = alpha.post("/api/v1/agents", {"name": "Fine"}).json()
    problem(alpha.patch(f"/api/v1/agents/{agent['id']}", {"llm_routes": [route]}), 400)
    # Unless the operator allows the host.
    settings.AURA_PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    if base_url.startswith("http://127.0.0.1"):
        allowed = alpha.patch(f"/api/v1/agents/{agent['id']}", {"llm_routes": [route]})
        assert allowed.status_code == 200


def test_a_route_named_by_a_name_that_leads_inside_cannot_reach_it(org_alpha, alpha, settings):
    # A name is just a name when the agent is saved; what it resolves to is checked at every
    # connection, so it cannot lead a session to loopback (nor turn private later).
    settings.AURA_PROVIDER_ALLOWED_HOSTS = []
    own_name = socket.gethostname()  # machines of this kind map it to loopback
    route = {"provider": "openai_compatible", "model": "m", "base_url": f"http://{own_name}:9/v1"}
    created = alpha.post("/api/v1/agents", {"name": "Inward", "llm_routes": [route]})
    assert created.status_code == 201
    with schema_context(org_alpha.schema_name):
        (llm_route,) = agent_config(agent_for_session("Inward")).llm_routes
    assert llm_route.public_only == ()

    with pytest.raises(ProviderError, match="non-public address") as refused:
        asyncio.run(first_chunk(llm_from_route(llm_route)))
    assert refused.value.code == "provider_unreachable"


async def first_chunk(model: LanguageModel) -> object:
    request = LLMRequest(messages=(ChatMessage("user", "hi"),))
    async for chunk in model.stream(request):
        return chunk
    return None


def test_the_operators_allowed_hosts_travel_with_the_routes_into_resumed_sessions(
    org_alpha, alpha, settings
):
    settings.AURA_PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    own = {"provider": "openai_compatible", "model": "m", "base_url": "http://127.0.0.1:9/v1"}
    cloud = {"provider": "openai", "model": "gpt-4o-mini"}
    alpha.post("/api/v1/agents", {"name": "Mixed", "llm_routes": [own, cloud]})
    with schema_context(org_alpha.schema_name):
        config = agent_config(agent_for_session("Mixed"))
    resumed = config_from_json(json.loads(json.dumps(config_to_json(config))))
    for routes in (config.llm_routes, resumed.llm_routes):
        # The organization's URL is held to the rule; the cloud default is the operator's own.
        assert [route.public_only for route in routes] == [("127.0.0.1",), None]


def test_a_public_self_hosted_route_is_accepted(alpha):
    route = {
        "provider": "openai_compatible",
        "model": "llama",
        "base_url": "https://llm.example.com/v1",
    }
    response = alpha.post("/api/v1/agents", {"name": "Hosted", "llm_routes": [route]})
    assert response.status_code == 201


def test_public_overrides_are_off_by_default_and_set_per_agent(org_alpha, alpha):
    created = alpha.post("/api/v1/agents", {"name": "Open", **ROUTES}).json()
    assert created["public_overrides"] == []
    changed = alpha.patch(
        f"/api/v1/agents/{created['id']}", {"public_overrides": ["instructions", "tools"]}
    )
    assert changed.status_code == 200, changed.content
    with schema_context(org_alpha.schema_name):
        assert Agent.objects.get(pk=created["id"]).public_overrides == ["instructions", "tools"]
    problem(
        alpha.patch(f"/api/v1/agents/{created['id']}", {"public_overrides": ["llm_routes"]}), 400
    )


def test_an_agents_vocabulary_is_stored_and_reaches_its_sessions(org_alpha, alpha):
    response = alpha.post(
        "/api/v1/agents",
        {"name": "Quorvex desk", "vocabulary": ["Quorvex", " ComfyUI ", "Quorvex"]},
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["vocabulary"] == ["Quorvex", "ComfyUI"]
    changed = alpha.patch(f"/api/v1/agents/{created['id']}", {"vocabulary": ["Zyntrava"]})
    assert changed.json()["vocabulary"] == ["Zyntrava"]
    with schema_context(org_alpha.schema_name):
        agent = Agent.objects.get(pk=created["id"])
        assert agent_config(agent).vocabulary == ("Zyntrava",)
        assert config_from_json(config_to_json(agent_config(agent))).vocabulary == ("Zyntrava",)


@pytest.mark.parametrize(
    "vocabulary", [["x" * 65], [""], ["   "], ["a\x00b"], [f"t{i}" for i in range(101)], "Quorvex"]
)
def test_a_bad_vocabulary_is_refused(alpha, vocabulary):
    problem(alpha.post("/api/v1/agents", {"name": "Bad words", "vocabulary": vocabulary}), 400)


def test_an_agents_speculation_policy_is_stored_and_reaches_its_sessions(org_alpha, alpha):
    response = alpha.post("/api/v1/agents", {"name": "Thrifty desk", "speculation": "thrifty"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["speculation"] == "thrifty"
    changed = alpha.patch(f"/api/v1/agents/{created['id']}", {"speculation": "phrases"})
    assert changed.json()["speculation"] == "phrases"
    with schema_context(org_alpha.schema_name):
        agent = Agent.objects.get(pk=created["id"])
        assert agent_config(agent).speculation == "phrases"
        assert config_from_json(config_to_json(agent_config(agent))).speculation == "phrases"


def test_an_unknown_speculation_policy_is_refused(alpha):
    problem(alpha.post("/api/v1/agents", {"name": "Guessing", "speculation": "always"}), 400)
