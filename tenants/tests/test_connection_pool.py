"""With a connection pool per process, threads share connections and never share a schema."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tenants.services import api_key_create
from voice.models import Agent
from voice.tests.realtime.server import run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

POOL_SIZE = 2


def _agent_names(base_url: str, slug: str, key: str) -> set[str]:
    request = urllib.request.Request(
        f"{base_url}/api/v1/agents?limit=100",
        headers={"Authorization": f"Bearer {key}", "Host": f"{slug}.localhost"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return {agent["name"] for agent in json.load(answer)["results"]}


def _connections_to_postgres(pid: int) -> int:
    port = int(connection.settings_dict.get("PORT") or 5432)
    return sum(
        1
        for opened in psutil.Process(pid).net_connections(kind="tcp")
        if opened.raddr and opened.raddr.port == port
    )


def test_pooled_connections_are_bounded_and_each_request_sees_its_own_schema(
    org_alpha: Any, org_beta: Any
) -> None:
    keys = {}
    for organization in (org_alpha, org_beta):
        with schema_context(organization.schema_name):
            Agent.objects.get_or_create(name=f"only-{organization.slug}")
        keys[organization.slug] = api_key_create(organization=organization).plaintext
    pooled = {"DATABASE_POOL_MAX_SIZE": str(POOL_SIZE), "AURA_DATABASE_WORKERS": "6"}

    with run_daphne(database_name=connection.settings_dict["NAME"], extra_env=pooled) as server:
        slugs = ["alpha", "beta"] * 30
        with ThreadPoolExecutor(max_workers=8) as clients:
            answers = list(
                clients.map(
                    lambda slug: (slug, _agent_names(server.http_url, slug, keys[slug])), slugs
                )
            )
        held = _connections_to_postgres(server.process.pid)

    for slug, names in answers:
        other = "beta" if slug == "alpha" else "alpha"
        assert f"only-{slug}" in names
        assert f"only-{other}" not in names
    assert 1 <= held <= POOL_SIZE
