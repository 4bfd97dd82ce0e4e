"""The REST API served by a real daphne process (ASGI, as deployed), on committed rows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tenants.services import api_key_create, platform_ensure_public_tenant
from voice.models import Agent
from voice.tests.realtime.server import run_daphne


def _call(url: str, key: str, method: str = "GET", body: Any = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_under_daphne(org_alpha):
    platform_ensure_public_tenant(domains=("127.0.0.1", "localhost"))
    key = api_key_create(organization=org_alpha, scopes=["agents"]).plaintext
    try:
        with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
            api = server.http_url + "/api/v1"
            status, _, created = _call(f"{api}/agents", key, "POST", {"name": "Over ASGI"})
            assert status == 201, created
            status, _, listed = _call(f"{api}/agents", key)
            assert status == 200
            assert "Over ASGI" in {agent["name"] for agent in listed["results"]}
            status, headers, document = _call(f"{api}/agents", "sk_AAAAAAAA_" + "x" * 43)
            assert status == 401
            assert headers["Content-Type"] == "application/problem+json"
            assert document["code"] == "invalid_api_key"
        with schema_context(org_alpha.schema_name):
            assert Agent.objects.filter(name="Over ASGI").exists()
    finally:
        with schema_context(org_alpha.schema_name):
            Agent.objects.filter(name="Over ASGI").delete()
