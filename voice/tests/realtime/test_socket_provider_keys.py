"""Over a real socket, against a daphne that holds the operator's provider keys: a route to an
organization's own host never receives them, and a failing provider's own words never reach
the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context
from websockets.asyncio.client import connect

from core.encryption import encrypt
from voice.models import ProviderCredential
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

OPERATOR_OPENAI_KEY = "sk-operator-" + "O" * 32
OPERATOR_XAI_KEY = "xai-operator-" + "X" * 32
ORGANIZATION_KEY = "sk-proj-alpha-" + "A" * 30 + "wxyz"


@pytest.fixture(scope="module")
def operator_daphne(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    keys = {"OPENAI_API_KEY": OPERATOR_OPENAI_KEY, "XAI_API_KEY": OPERATOR_XAI_KEY}
    with run_daphne(database_name=connection.settings_dict["NAME"], extra_env=keys) as server:
        yield server


async def _ask(server: DaphneProcess, key: str) -> dict[str, Any]:
    """Ask one question in text; the first `error` event the server sends back."""
    url = f"{server.websocket_base_url}/realtime"
    async with connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as socket:
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Hi"}],
        }
        await socket.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await socket.send(json.dumps({"type": "response.create"}))
        async with asyncio.timeout(30):
            while True:
                event: dict[str, Any] = json.loads(await socket.recv())
                if event["type"] == "error":
                    assert_conforms(event)
                    return event


async def _route_to(organization: Any, host: Any, provider: str, model: str) -> None:
    route = {"provider": provider, "model": model, "base_url": host.base_url}
    await configure_agent(organization, llm_routes=[route], turn_detection=None, builtin_tools=[])


@pytest.mark.parametrize("provider", ["openai", "grok"])
async def test_a_route_to_an_organizations_host_never_carries_the_operators_key(
    operator_daphne, org_alpha, simulator, provider
):
    await simulator.reset()
    await _route_to(org_alpha, simulator, provider, "gpt-4o-mini")

    error = await _ask(operator_daphne, await issue_key(org_alpha))

    assert error["error"]["code"] == "all_routes_failed"
    assert "missing_api_key" in error["error"]["message"]
    assert await simulator.requests() == []


@pytest.fixture
def alpha_openai_key(org_alpha: Any) -> Iterator[None]:
    """The organization's stored OpenAI key; removed afterwards, since schemas outlive a
    transactional test and other tests expect no stored key."""
    with schema_context(org_alpha.schema_name):
        ProviderCredential.objects.create(
            provider="openai", api_key_encrypted=encrypt(ORGANIZATION_KEY), key_hint="sk-…wxyz"
        )
    yield
    with schema_context(org_alpha.schema_name):
        ProviderCredential.objects.filter(provider="openai").delete()


async def test_a_refused_organization_key_is_reported_without_the_providers_words(
    operator_daphne, org_alpha, simulator, alpha_openai_key
):
    await simulator.reset()
    await _route_to(org_alpha, simulator, "openai", "fail-401")

    error = await _ask(operator_daphne, await issue_key(org_alpha))

    assert error["error"]["code"] == "all_routes_failed"
    assert "provider_auth_failed" in error["error"]["message"]
    text = json.dumps(error)
    for leaked in ("Incorrect API key", "simulated failure", "wxyz", "127.0.0.1"):
        assert leaked not in text
    [request] = await simulator.requests()
    assert request["authorization"] == f"Bearer {ORGANIZATION_KEY}"
