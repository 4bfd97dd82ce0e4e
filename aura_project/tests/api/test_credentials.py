"""voice/api/credentials.py: provider keys stored encrypted, shown as a hint, never logged."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from typing import Any

from aiohttp import web
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import Api, problem
from core.encryption import decrypt
from core.errors import AuraError
from voice.engine.assembly import build_llm
from voice.engine.llm.base import ChatMessage, LLMRequest
from voice.models import ProviderCredential
from voice.realtime.resume import config_from_json, config_to_json
from voice.selectors import agent_config, agent_for_session, with_provider_keys

OPENAI_KEY = "sk-proj-" + "Z" * 40 + "9xYz"


def test_a_provider_key_is_kept_encrypted_and_only_hinted(org_alpha, alpha, caplog):
    caplog.set_level(logging.DEBUG)
    response = alpha.put("/api/v1/provider-credentials/openai", {"api_key": OPENAI_KEY})
    assert response.status_code == 201, response.content
    assert response.json()["key_hint"] == "sk-…9xYz"
    bodies = [
        response.content,
        alpha.get("/api/v1/provider-credentials").content,
        alpha.get("/api/v1/provider-credentials/openai").content,
    ]
    for body in bodies:
        assert OPENAI_KEY.encode() not in body
        assert b"Z" * 20 not in body
    assert OPENAI_KEY not in caplog.text
    assert "Z" * 20 not in caplog.text
    with schema_context(org_alpha.schema_name):
        stored = ProviderCredential.objects.get(provider="openai")
        assert OPENAI_KEY not in stored.api_key_encrypted
        assert decrypt(stored.api_key_encrypted) == OPENAI_KEY


def test_a_provider_key_is_replaced_and_deleted(org_alpha, alpha):
    alpha.put("/api/v1/provider-credentials/grok", {"api_key": "xai-" + "a" * 30})
    replaced = alpha.put("/api/v1/provider-credentials/grok", {"api_key": "xai-" + "b" * 30})
    assert replaced.status_code == 200
    assert replaced.json()["key_hint"] == "xai…bbbb"
    with schema_context(org_alpha.schema_name):
        assert decrypt(ProviderCredential.objects.get().api_key_encrypted) == "xai-" + "b" * 30
    assert alpha.delete("/api/v1/provider-credentials/grok").status_code == 204
    problem(alpha.get("/api/v1/provider-credentials/grok"), 404)


def test_bad_provider_keys_and_unknown_providers_are_refused(alpha):
    problem(alpha.put("/api/v1/provider-credentials/openai", {"api_key": "short"}), 400)
    problem(alpha.put("/api/v1/provider-credentials/openai", {"api_key": "a b" * 10}), 400)
    problem(alpha.put("/api/v1/provider-credentials/anthropic", {"api_key": "x" * 30}), 404)


def test_only_admin_keys_touch_provider_keys(org_alpha, make_key):
    agents_only = Api(make_key(org_alpha, scopes=["agents", "tools", "keys", "conversations"]))
    problem(agents_only.put("/api/v1/provider-credentials/openai", {"api_key": "x" * 30}), 403)


async def _first_authorization(routes: tuple[Any, ...]) -> str | None:
    """Send one request over `routes` to a local recorder; the Authorization it received."""
    seen: list[str] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"error": {"message": "recorded"}}, status=400)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    routed = tuple(dataclasses.replace(r, base_url=f"http://127.0.0.1:{port}/v1") for r in routes)
    try:
        request = LLMRequest(messages=(ChatMessage("user", "hello"),))
        with contextlib.suppress(AuraError):
            async for _ in build_llm(routed).stream(request):
                pass
    finally:
        await runner.cleanup()
    return seen[0] if seen else None


def test_sessions_call_the_provider_with_the_organizations_key(org_alpha, alpha, org_beta, beta):
    alpha.put("/api/v1/provider-credentials/openai", {"api_key": OPENAI_KEY})
    route = {"provider": "openai", "model": "gpt-test"}
    alpha.post("/api/v1/agents", {"name": "Cloud", "llm_routes": [route]})
    beta.post("/api/v1/agents", {"name": "Cloud", "llm_routes": [route]})
    with schema_context(org_alpha.schema_name):
        config = agent_config(agent_for_session("Cloud"))
        # A resumed session's snapshot holds no key; the organization's is put back.
        resumed = with_provider_keys(config_from_json(config_to_json(config)))
    assert "api_key" not in json.dumps(config_to_json(config))
    assert OPENAI_KEY not in repr(config)
    with schema_context(org_beta.schema_name):
        beta_config = agent_config(agent_for_session("Cloud"))
    assert asyncio.run(_first_authorization(config.llm_routes)) == f"Bearer {OPENAI_KEY}"
    assert asyncio.run(_first_authorization(resumed.llm_routes)) == f"Bearer {OPENAI_KEY}"
    # Beta has no key of its own: its routes carry none (the server's key applies).
    assert beta_config.llm_routes[0].api_key is None
