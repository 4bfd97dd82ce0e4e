"""A tenant's webhook tool, called by the model during a realtime session on a real daphne.

The organization's endpoint is a real HTTP server on loopback (allow-listed for this server
only); it checks AURA's signature, and its answer is what the model speaks about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from voice.models import Agent, WebhookTool
from voice.services import webhook_tool_create
from voice.tests.realtime.conftest import issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne
from voice.tests.realtime.test_conformance import (
    ask_in_text,
    events_until,
    of_type,
    sdk_client,
    simulator_route,
)
from voice.tests.webhook_endpoint import SIGNING_SECRET, serve_order_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def webhook_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    """A daphne whose operator allows webhooks to loopback, where the test endpoint listens."""
    from django.db import connection

    with run_daphne(
        database_name=connection.settings_dict["NAME"],
        extra_env={"AURA_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"},
    ) as server:
        yield server


async def _attach_webhook(organization: Any, url: str, model: str, simulator: Any) -> None:
    def attach() -> None:
        with schema_context(organization.schema_name):
            WebhookTool.objects.filter(name="lookup_order").delete()
            tool = webhook_tool_create(
                name="lookup_order",
                description="Where an order is.",
                url=url,
                signing_secret=SIGNING_SECRET,
                parameters={
                    "type": "object",
                    "properties": {"order": {"type": "string"}},
                    "required": ["order"],
                },
            )
            agent = Agent.objects.get(is_default=True)
            agent.llm_routes = simulator_route(simulator, model)
            agent.turn_detection = None
            agent.builtin_tools = []
            agent.save()
            agent.webhook_tools.set([tool])

    await sync_to_async(attach)()


async def _ask(server: DaphneProcess, key: str) -> list[dict[str, Any]]:
    async with sdk_client(server, key).realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        await ask_in_text(connection, "Where is my order A-17?")
        return await events_until(connection, "response.done")


async def test_the_model_calls_the_webhook_with_a_signed_request_and_speaks_its_answer(
    webhook_server: DaphneProcess, org_alpha: Any, simulator: Any, settings: Any
) -> None:
    settings.AURA_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # for saving the tool in this process
    async with serve_order_service() as endpoint:
        await _attach_webhook(
            org_alpha,
            f"{endpoint.base_url}/orders",
            'tool-call:lookup_order:{"order": "A-17"}',
            simulator,
        )
        received = await _ask(webhook_server, await issue_key(org_alpha))

    (request,) = endpoint.received
    assert request["verified"] is True
    assert request["arguments"] == {"order": "A-17"}
    outputs = [
        event["item"]
        for event in of_type(received, "conversation.item.added")
        if event["item"]["type"] == "function_call_output"
    ]
    assert [json.loads(item["output"])["status"] for item in outputs] == ["shipped"]
    assert request["call_id"] == outputs[0]["call_id"]
    spoken = of_type(received, "response.output_audio_transcript.done")
    assert spoken, "no spoken follow-up"
    assert "shipped" in spoken[-1]["transcript"]


async def test_a_webhook_that_fails_gives_the_model_an_error_not_a_broken_session(
    webhook_server: DaphneProcess, org_alpha: Any, simulator: Any, settings: Any
) -> None:
    settings.AURA_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    async with serve_order_service() as endpoint:
        await _attach_webhook(
            org_alpha,
            f"{endpoint.base_url}/broken",
            'tool-call:lookup_order:{"order": "A-17"}',
            simulator,
        )
        received = await _ask(webhook_server, await issue_key(org_alpha))

    assert len(endpoint.received) == 1
    outputs = [
        json.loads(event["item"]["output"])
        for event in of_type(received, "conversation.item.added")
        if event["item"]["type"] == "function_call_output"
    ]
    assert outputs == [{"error": "the webhook answered HTTP 500"}]
    assert received[-1]["response"]["status"] == "completed"
    assert not of_type(received, "error")
