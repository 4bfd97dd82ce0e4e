"""core/api/, tenants/rest/: authentication, scopes, problems, hostile bodies, rate limits."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from aura_project.tests.api.conftest import Api, problem
from tenants.models import ApiKey
from tenants.services import api_key_revoke, organization_set_status


def test_no_key_is_a_401_problem_with_a_challenge(platform, org_alpha):
    response = Api(None).get("/api/v1/agents")
    body = problem(response, 401, "missing_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert body["type"] == "urn:aura:error:authentication_error"
    assert body["title"] == "Authentication failed"


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer sk_nope", "Bearer sk_AAAAAAAA_" + "x" * 43, "sk_x"],
)
def test_bad_credentials_are_401(platform, org_alpha, authorization):
    response = Api(None).get("/api/v1/agents", HTTP_AUTHORIZATION=authorization)
    problem(response, 401)


def test_revoked_expired_and_publishable_keys_are_refused(org_alpha, make_key):
    revoked = make_key(org_alpha)
    api_key_revoke(api_key=ApiKey.objects.get(prefix=revoked[:11]))
    problem(Api(revoked).get("/api/v1/agents"), 401, "invalid_api_key")

    expired = make_key(org_alpha, expires_at=timezone.now() - timedelta(seconds=1))
    problem(Api(expired).get("/api/v1/agents"), 401, "invalid_api_key")

    publishable = make_key(org_alpha, kind="pk", allowed_origins=["https://shop.example"])
    problem(Api(publishable).get("/api/v1/agents"), 401)


def test_a_suspended_organization_is_refused(org_alpha, alpha):
    organization_set_status(organization=org_alpha, status="suspended")
    problem(alpha.get("/api/v1/agents"), 403, "organization_suspended")


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/api/v1/agents", "agents"),
        ("/api/v1/keys", "keys"),
        ("/api/v1/conversations", "conversations"),
        ("/api/v1/messages", "conversations"),
        ("/api/v1/tools", "tools"),
        ("/api/v1/provider-credentials", "admin"),
    ],
)
def test_each_endpoint_needs_its_scope(org_alpha, make_key, path, scope):
    others = [s for s in ("agents", "conversations", "keys", "tools", "admin") if s != scope]
    problem(Api(make_key(org_alpha, scopes=others)).get(path), 403, "missing_scope")
    assert Api(make_key(org_alpha, scopes=[scope])).get(path).status_code == 200


def test_platform_endpoints_need_a_staff_key_of_the_platform(org_alpha, alpha, staff):
    problem(alpha.get("/api/v1/platform/organizations"), 403, "missing_scope")
    assert staff.get("/api/v1/platform/organizations").status_code == 200
    # And a platform key cannot act inside an organization.
    problem(staff.get("/api/v1/agents"), 403, "organization_key_required")


def test_the_key_decides_the_tenant_on_the_platform_host_and_must_match_a_tenant_host(
    org_alpha, org_beta, make_key
):
    alpha_key = make_key(org_alpha)
    assert Api(alpha_key, host="alpha.localhost").get("/api/v1/agents").status_code == 200
    # Alpha's key on beta's domain: refused as if it were not a key at all.
    problem(Api(alpha_key, host="beta.localhost").get("/api/v1/agents"), 401, "invalid_api_key")


def test_unknown_paths_under_api_are_problems(alpha):
    problem(alpha.get("/api/v1/nothing-here"), 404, "unknown_endpoint")
    problem(alpha.get("/api/v1/agents/not-a-number"), 404)
    problem(alpha.post("/api/v1/anything\n", {}), 404)


def test_wrong_method_and_media_type_are_problems(alpha):
    problem(alpha.put("/api/v1/agents", {}), 405)
    response = alpha.client.post(
        "/api/v1/agents",
        "name=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=f"Bearer {alpha.key}",
    )
    problem(response, 415)
    problem(alpha.get("/api/v1/agents", HTTP_ACCEPT="application/xml"), 406)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ('{"name": "a", "name": NaN}', "invalid_json"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
        ('{"name": "nul\\u0000byte"}', "invalid_json"),
        ('{"name": "x", "turn_detection": {"\\u0000": 1}}', "invalid_json"),
        ("[1, 2]", "invalid_request"),
        ('"just a string"', "invalid_request"),
        ('{"name": ""}', "invalid_request"),
        ('{"name": "x", "stt_routes": "all of them"}', "invalid_request"),
        ('{"name": "x", "llm_routes": [{"provider": "mystery", "model": "m"}]}', "invalid_request"),
        ('{"name": "x", "turn_detection": {"type": "semantic"}}', "invalid_request"),
        ('{"name": "x", "max_output_tokens": -5}', "invalid_request"),
        ('{"name": "x", "webhook_tools": ["no-such-tool"]}', "invalid_request"),
    ],
)
def test_malformed_and_hostile_bodies_are_400_problems(alpha, body, code):
    response = alpha.post("/api/v1/agents", body)
    document = problem(response, 400, code)
    assert document["detail"]


def test_a_body_over_the_limit_is_refused_unread(alpha, settings):
    settings.AURA_API_MAX_BODY_BYTES = 1000
    problem(alpha.post("/api/v1/agents", {"name": "big", "instructions": "x" * 5000}), 400)


def test_validation_errors_name_the_field(alpha):
    body = problem(alpha.post("/api/v1/agents", {"name": "x" * 101}), 400, "invalid_request")
    assert body["param"] == "name"
    assert "name" in body["errors"]


def test_lists_are_paginated_with_limit_and_offset(alpha):
    for index in range(5):
        assert alpha.post("/api/v1/agents", {"name": f"Pager {index}"}).status_code == 201
    pager = {"name": "Pager", "ordering": "name"}
    first = alpha.get("/api/v1/agents", {**pager, "limit": 2}).json()
    assert first["count"] == 5
    assert [agent["name"] for agent in first["results"]] == ["Pager 0", "Pager 1"]
    assert "offset=2" in first["next"]
    last = alpha.get("/api/v1/agents", {**pager, "limit": 2, "offset": 4}).json()
    assert [agent["name"] for agent in last["results"]] == ["Pager 4"]
    assert last["next"] is None
    assert last["previous"] is not None
    descending = alpha.get("/api/v1/agents", {**pager, "ordering": "-name", "limit": 1}).json()
    assert descending["results"][0]["name"] == "Pager 4"
    capped = alpha.get("/api/v1/agents", {"limit": 100000}).json()
    assert len(capped["results"]) == min(capped["count"], 100)


def test_rate_limit_per_key_answers_429_with_retry_after(alpha, settings):
    settings.AURA_API_RATE_LIMIT_PER_KEY = "3/minute"
    for _ in range(3):
        assert alpha.get("/api/v1/agents").status_code == 200
    response = alpha.get("/api/v1/agents")
    problem(response, 429, "rate_limit_exceeded")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_rate_limit_per_organization_spans_its_keys_but_not_other_organizations(
    org_alpha, make_key, beta, settings
):
    settings.AURA_API_RATE_LIMIT_PER_ORGANIZATION = "4/minute"
    first, second = Api(make_key(org_alpha)), Api(make_key(org_alpha))
    for _ in range(2):
        assert first.get("/api/v1/agents").status_code == 200
        assert second.get("/api/v1/agents").status_code == 200
    problem(first.get("/api/v1/agents"), 429)
    problem(second.get("/api/v1/agents"), 429)
    assert beta.get("/api/v1/agents").status_code == 200


def test_the_rate_limit_window_moves_on(alpha, settings):
    settings.AURA_API_RATE_LIMIT_PER_KEY = "2/second"
    assert alpha.get("/api/v1/agents").status_code == 200
    assert alpha.get("/api/v1/agents").status_code == 200
    response = alpha.get("/api/v1/agents")
    problem(response, 429)
    assert response["Retry-After"] == "1"
    time.sleep(1.1)
    assert alpha.get("/api/v1/agents").status_code == 200


def test_the_schema_and_its_docs_are_served_without_a_cdn(platform):
    client = Api(None)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/agents" in document["paths"]
    assert document["components"]["securitySchemes"]["secretKey"]["scheme"] == "bearer"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
    assert b"/static/drf_spectacular_sidecar/" in docs.content


def test_keys_never_reach_the_logs(org_alpha, alpha, caplog):
    caplog.set_level(logging.DEBUG)
    bogus = "sk_AAAAAAAA_" + "y" * 43
    alpha.get("/api/v1/agents")
    alpha.post("/api/v1/agents", "{broken")
    alpha.get("/api/v1/nothing")
    Api(bogus).get("/api/v1/agents")
    assert caplog.records  # the requests above were logged...
    assert alpha.key not in caplog.text  # ...without the keys
    assert bogus not in caplog.text


def test_errors_before_the_api_use_the_same_problem_format(platform, org_alpha, alpha):
    unknown_host = Api(alpha.key, host="nobody.localhost").get("/api/v1/agents")
    body = problem(unknown_host, 404, "unknown_host")
    assert body["detail"] == "No organization is served at this address."
    organization_set_status(organization=org_alpha, status="suspended")
    suspended_host = Api(alpha.key, host="alpha.localhost").get("/api/v1/agents")
    assert problem(suspended_host, 403, "organization_suspended")["type"] == (
        "urn:aura:error:permission_error"
    )
