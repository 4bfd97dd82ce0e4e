"""POST /v1/realtime/client_secrets, against real PostgreSQL and Redis."""

import secrets
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, override_settings

from tenants.models import Organization
from tenants.services import api_key_create
from voice.realtime.client_secrets import client_secret_resolve

pytestmark = pytest.mark.django_db(transaction=True)


async def issue(organization: Organization, **options: Any) -> str:
    return (await sync_to_async(api_key_create)(organization=organization, **options)).plaintext


async def post(body, key=None, content_type="application/json", address=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if address is not None:
        headers["X-Forwarded-For"] = address
    return await AsyncClient().post(
        "/v1/realtime/client_secrets",
        body,
        content_type=content_type,
        headers=headers,
        HTTP_HOST="localhost",
    )


@pytest.fixture
def platform(db):
    from tenants.services import platform_ensure_public_tenant

    # The async test client always sends Host: testserver.
    return platform_ensure_public_tenant(domains=("testserver",))


async def test_a_secret_key_mints_a_client_secret_for_its_organization(org_alpha, platform):
    key = await issue(org_alpha)
    response = await post(
        {
            "expires_after": {"anchor": "created_at", "seconds": 60},
            "session": {"instructions": "Hi"},
        },
        key,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value"].startswith("ek_")
    resolved = await client_secret_resolve(body["value"])
    assert resolved is not None
    assert resolved.tenant.schema_name == org_alpha.schema_name
    assert resolved.session_defaults == {"instructions": "Hi"}
    assert resolved.end_user_id == ""


async def test_a_client_secret_carries_the_end_user_its_server_vouches_for(org_alpha, platform):
    response = await post({"user": "alice@example.com"}, await issue(org_alpha))
    assert response.status_code == 200
    resolved = await client_secret_resolve(response.json()["value"])
    assert resolved is not None
    assert resolved.end_user_id == "alice@example.com"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_json"),
        ({"expires_after": {"seconds": 999999}}, 400, "invalid_request"),
        ({"expires_after": {"seconds": "soon"}}, 400, "invalid_request"),
        ({"session": {"tools": "all"}}, 400, "invalid_request"),
        ({"session": {"secret_mode": True}}, 400, "invalid_request"),
        ({"user": 42}, 400, "invalid_request"),
        ({"user": ""}, 400, "invalid_request"),
        ({"user": "a\nb"}, 400, "invalid_request"),
        ({"user": "u" * 201}, 400, "invalid_request"),
    ],
)
async def test_bad_bodies_get_a_problem_document(org_alpha, platform, body, status, code):
    response = await post(body, await issue(org_alpha))
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_keys_that_may_not_mint_are_refused(org_alpha, platform):
    assert (await post({}, None)).status_code == 401
    assert (await post({}, "sk_bogus")).status_code == 401
    publishable = await issue(org_alpha, kind="pk", allowed_origins=["https://shop.example"])
    assert (await post({}, publishable)).status_code in (401, 403)
    no_scope = await issue(org_alpha, scopes=["agents"])
    assert (await post({}, no_scope)).status_code == 403


def client_address() -> str:
    """An address of the benchmarking range no earlier run is likely to have used (a rate
    window outlives its run by a minute)."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@override_settings(AURA_CLIENT_SECRETS_RATE_PER_KEY="2/minute")
async def test_a_key_mints_client_secrets_at_its_rate_then_gets_429_with_retry_after(
    org_alpha, platform
):
    key = await issue(org_alpha)
    assert [(await post({}, key)).status_code for _ in range(2)] == [200, 200]
    refused = await post({}, key)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Another key of the organization has its own window.
    assert (await post({}, await issue(org_alpha))).status_code == 200


@override_settings(
    AURA_CLIENT_SECRETS_RATE_PER_ADDRESS="2/minute", AURA_TRUSTED_PROXIES=["127.0.0.1"]
)
async def test_one_address_asks_for_client_secrets_at_its_rate_whatever_the_key(
    org_alpha, platform
):
    address = client_address()
    # Attempts with a bad key count: the address pays for guessing.
    assert (await post({}, "sk_AAAAAAAA_guess", address=address)).status_code == 401
    assert (await post({}, await issue(org_alpha), address=address)).status_code == 200
    refused = await post({}, await issue(org_alpha), address=address)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert (await post({}, await issue(org_alpha), address=client_address())).status_code == 200
