"""voice/api/credentials.py: provider keys stored encrypted, shown as a hint, never logged."""

from __future__ import annotations

import logging

from django_tenants.utils import schema_context

from aura_project.encryption import decrypt
from aura_project.tests.api.conftest import Api, problem
from voice.models import ProviderCredential

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
