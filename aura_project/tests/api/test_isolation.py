"""Cross-tenant access on every endpoint: beta's key, on every host, never reaches alpha's rows.

Alpha's resources are created first; then every operation of the OpenAPI document (so a new
endpoint is covered the day it is added) is tried with beta's key on alpha's ids: the answer
is a 401/403/404 problem, or a list without alpha's rows; alpha's rows are unchanged after.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import Api
from aura_project.tests.attacks import attack
from conversations.models import Conversation, Message
from conversations.services import conversation_record_turn, conversation_start
from monitoring.services import usage_record
from tenants.models import ApiKey, Organization
from voice.models import Agent, ProviderCredential, WebhookTool

pytestmark = pytest.mark.adversarial

ALPHA_SECRET_WORD = "zanzibar"
BODIES: dict[str, Any] = {
    "agents": {"name": "Hijacked", "instructions": "stolen"},
    "tools": {"url": "https://example.com/x", "signing_secret": "s" * 32, "name": "hijack"},
    "keys": {"grace_seconds": 0},
    "provider-credentials": {"api_key": "sk-beta-" + "b" * 30},
}


def _alpha_ids(org_alpha: Organization, alpha: Api) -> dict[str, str]:
    # Ids count per schema: push alpha's past any id beta could have, so that a 200 on alpha's
    # id can only mean a leak, never beta's own row with the same number.
    with schema_context(org_alpha.schema_name):
        for index in range(20):
            Agent.objects.create(name=f"throwaway {index}").delete()
            WebhookTool.objects.create(name=f"throwaway{index}", url="https://x.example").delete()
        conversation = conversation_start(end_user_id="throwaway")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[{"role": "user", "text": "x"}] * 20,
        )
        conversation.delete()
    agent = alpha.post("/api/v1/agents", {"name": "Alpha private"}).json()
    tool = alpha.post(
        "/api/v1/tools",
        {"name": "alpha_tool", "url": "https://example.com/hook", "signing_secret": "a" * 32},
    ).json()
    key = alpha.post("/api/v1/keys", {"name": "alpha second"}).json()
    assert alpha.put("/api/v1/provider-credentials/openai", {"api_key": "sk-alpha-" + "a" * 30})
    with schema_context(org_alpha.schema_name):
        conversation = conversation_start(end_user_id="alpha-user")
        conversation_record_turn(
            conversation_id=str(conversation.pk),
            messages=[{"role": "user", "text": f"my password is {ALPHA_SECRET_WORD}"}],
        )
        message = Message.objects.get(conversation=conversation)
        usage_record(
            records=[{"stage": "llm", "provider": "openai", "model": "gpt-4o", "requests": 1}],
            conversation_id=str(conversation.pk),
        )
    return {
        "agents": str(agent["id"]),
        "tools": str(tool["id"]),
        "keys": str(key["id"]),
        "conversations": str(conversation.pk),
        "messages": str(message.pk),
        "provider-credentials": "openai",
        "platform": str(org_alpha.pk),
    }


def _snapshot(org_alpha: Organization) -> Any:
    with schema_context(org_alpha.schema_name):
        return (
            sorted(Agent.objects.values_list("name", "instructions")),
            sorted(WebhookTool.objects.values_list("name", "url", "enabled")),
            sorted(ProviderCredential.objects.values_list("provider", "api_key_encrypted")),
            Conversation.objects.count(),
            Message.objects.count(),
            sorted(
                ApiKey.objects.filter(organization=org_alpha).values_list(
                    "prefix", "revoked_at", "expires_at"
                )
            ),
            Organization.objects.get(pk=org_alpha.pk).status,
        )


def _operations(alpha: Api) -> list[tuple[str, str]]:
    document = alpha.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_no_endpoint_lets_one_organization_reach_another(org_alpha, org_beta, alpha, make_key):
    ids = _alpha_ids(org_alpha, alpha)
    before = _snapshot(org_alpha)
    beta_key = make_key(org_beta)
    # What only alpha's rows contain (ids are per schema, so beta has an agent 1 of its own).
    forbidden = [
        ALPHA_SECRET_WORD,
        "Alpha private",
        "alpha_tool",
        "alpha second",
        "…aaaa",
        ids["conversations"],
        *ApiKey.objects.filter(organization=org_alpha).values_list("prefix", flat=True),
    ]
    tried = 0
    for host in ("localhost", "beta.localhost", "alpha.localhost"):
        beta = Api(beta_key, host=host)
        for method, template in _operations(alpha):
            resource = template.split("/")[3]
            path = (
                template.replace("{id}", ids.get(resource, ""))
                .replace("{provider}", "openai")
                .replace("{conversation_id}", ids["conversations"])
            )
            if "{" not in template and method != "GET":
                continue  # creating in one's own organization is not cross-tenant
            body = BODIES.get(resource, {})
            response = getattr(beta, method.lower())(
                path, **({} if method in ("GET", "DELETE") else {"body": body})
            )
            tried += 1
            content = response.content.decode()
            for secret in forbidden:
                assert secret not in content, (method, path, host, secret)
            # (Provider credentials are named by provider: beta's "openai" is beta's own.)
            if "{" in template and "{provider}" not in template:
                # Another organization's id: as if it did not exist (or no access at all).
                assert response.status_code in (401, 403, 404), (method, path, host, content)
                assert response["Content-Type"] == "application/problem+json"
    attack("rest", tried)
    assert tried > 45
    assert _snapshot(org_alpha) == before
    assert json.dumps(before)  # the snapshot is plain data
