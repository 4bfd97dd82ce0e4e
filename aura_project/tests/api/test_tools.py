"""voice/api/tools.py: webhook tools through the voice services (SSRF guard, secret kept)."""

from __future__ import annotations

import logging

import pytest
from django_tenants.utils import schema_context

from aura_project.tests.api.conftest import problem
from core.encryption import decrypt
from voice.models import WebhookTool

SECRET = "whsec_" + "q" * 40


def test_a_tool_is_created_and_its_secret_never_comes_back(org_alpha, alpha, caplog):
    caplog.set_level(logging.DEBUG)
    body = {
        "name": "lookup_order",
        "description": "Find an order by number.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}},
        "url": "https://example.com/orders",
        "signing_secret": SECRET,
        "timeout_s": 5,
    }
    response = alpha.post("/api/v1/tools", body)
    assert response.status_code == 201, response.content
    for content in (
        response.content,
        alpha.get("/api/v1/tools").content,
        alpha.get(f"/api/v1/tools/{response.json()['id']}").content,
    ):
        assert SECRET.encode() not in content
        assert b"signing_secret" not in content
    assert SECRET not in caplog.text
    with schema_context(org_alpha.schema_name):
        tool = WebhookTool.objects.get(name="lookup_order")
        assert SECRET not in tool.signing_secret_encrypted
        assert decrypt(tool.signing_secret_encrypted) == SECRET
        assert tool.timeout_s == 5


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "ftp://example.com/hook",
        "not a url",
    ],
)
def test_tools_that_would_reach_inside_are_refused(alpha, url):
    body = {"name": "probe", "url": url, "signing_secret": SECRET}
    problem(alpha.post("/api/v1/tools", body), 400)
    tool = alpha.post(
        "/api/v1/tools", {"name": "ok", "url": "https://example.com/x", "signing_secret": SECRET}
    ).json()
    problem(alpha.patch(f"/api/v1/tools/{tool['id']}", {"url": url}), 400)


def test_a_tool_is_changed_disabled_and_deleted(org_alpha, alpha):
    tool = alpha.post(
        "/api/v1/tools", {"name": "t1", "url": "https://example.com/x", "signing_secret": SECRET}
    ).json()
    changed = alpha.patch(
        f"/api/v1/tools/{tool['id']}",
        {"enabled": False, "timeout_s": 2.5, "signing_secret": "n" * 20},
    ).json()
    assert changed["enabled"] is False
    assert changed["timeout_s"] == 2.5
    with schema_context(org_alpha.schema_name):
        assert decrypt(WebhookTool.objects.get(pk=tool["id"]).signing_secret_encrypted) == "n" * 20
    assert [
        t["name"]
        for t in alpha.get("/api/v1/tools", {"enabled": "false", "name": "t1"}).json()["results"]
    ] == ["t1"]
    problem(
        alpha.post(
            "/api/v1/tools", {"name": "t1", "url": "https://e.com", "signing_secret": SECRET}
        ),
        400,
    )
    assert alpha.delete(f"/api/v1/tools/{tool['id']}").status_code == 204
    problem(alpha.get(f"/api/v1/tools/{tool['id']}"), 404)
