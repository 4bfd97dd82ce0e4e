"""POST /v1/realtime/client_secrets, against real PostgreSQL and Redis."""

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from tenants.services import api_key_create
from voice.realtime.client_secrets import client_secret_resolve

pytestmark = pytest.mark.django_db(transaction=True)


async def issue(organization, **options) -> str:
    return (await sync_to_async(api_key_create)(organization=organization, **options)).plaintext


async def post(body, key=None, content_type="application/json"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
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


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_json"),
        ({"expires_after": {"seconds": 999999}}, 400, "invalid_request"),
        ({"expires_after": {"seconds": "soon"}}, 400, "invalid_request"),
        ({"session": {"tools": "all"}}, 400, "invalid_request"),
        ({"session": {"secret_mode": True}}, 400, "invalid_request"),
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
