"""voice/api/agents.py: create, read, change and delete agents through the services."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import problem
from voice.models import Agent

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
        "audio_retention": True,
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
        assert agent.audio_retention is True
        assert agent.is_default is False
    assert alpha.get(f"/api/v1/agents/{created['id']}").json() == created


def test_audio_retention_is_off_by_default(alpha):
    assert alpha.post("/api/v1/agents", {"name": "Plain"}).json()["audio_retention"] is False


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


def test_a_public_self_hosted_route_is_accepted(alpha):
    route = {
        "provider": "openai_compatible",
        "model": "llama",
        "base_url": "https://llm.example.com/v1",
    }
    response = alpha.post("/api/v1/agents", {"name": "Hosted", "llm_routes": [route]})
    assert response.status_code == 201
