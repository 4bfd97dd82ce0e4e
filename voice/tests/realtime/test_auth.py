"""Who may open a realtime session, resolved from the WebSocket handshake."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tenants.errors import AuthenticationError, OrganizationSuspendedError, PermissionDeniedError
from tenants.models import Organization
from tenants.selectors import resolve_api_key
from tenants.services import api_key_create, organization_set_status
from voice.realtime.auth import authenticate
from voice.realtime.client_secrets import client_secret_mint, client_secret_resolve

pytestmark = pytest.mark.django_db(transaction=True)


async def issue(organization: Organization, **options: Any) -> str:
    issued = await sync_to_async(api_key_create)(organization=organization, **options)
    return issued.plaintext


def handshake(*, authorization=None, subprotocols=(), origin=None):
    headers = []
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "headers": headers, "subprotocols": list(subprotocols)}


async def test_a_bearer_secret_key_opens_a_session_for_its_organization(org_alpha):
    key = await issue(org_alpha)
    credentials = await authenticate(handshake(authorization=f"Bearer {key}"))
    assert credentials.tenant.schema_name == org_alpha.schema_name
    assert credentials.kind == "sk"


async def test_a_key_in_the_browser_subprotocol_is_accepted(org_alpha):
    key = await issue(org_alpha)
    credentials = await authenticate(
        handshake(subprotocols=["realtime", f"openai-insecure-api-key.{key}"])
    )
    assert credentials.tenant.slug == "alpha"


async def test_a_publishable_key_needs_an_allowed_origin(org_alpha):
    key = await issue(org_alpha, kind="pk", allowed_origins=["http://alpha.localhost:8000"])
    protocols = [f"openai-insecure-api-key.{key}"]
    ok = await authenticate(handshake(subprotocols=protocols, origin="http://alpha.localhost:8000"))
    assert ok.kind == "pk"
    with pytest.raises(PermissionDeniedError, match="origin"):
        await authenticate(handshake(subprotocols=protocols, origin="https://evil.example"))
    with pytest.raises(PermissionDeniedError, match="origin"):
        await authenticate(handshake(subprotocols=protocols))


async def test_a_key_without_the_realtime_scope_is_refused(org_alpha):
    key = await issue(org_alpha, scopes=["agents"])
    with pytest.raises(PermissionDeniedError, match="realtime"):
        await authenticate(handshake(authorization=f"Bearer {key}"))


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer sk_nope",
        "Bearer " + "x" * 10_000,
        "Bearer ek_forged",
    ],
)
async def test_missing_or_bad_credentials_are_refused(org_alpha, authorization):
    with pytest.raises(AuthenticationError):
        await authenticate(handshake(authorization=authorization))


async def test_a_client_secret_is_valid_until_it_expires(org_alpha):
    issuer = await sync_to_async(resolve_api_key)(await issue(org_alpha))
    secret = await client_secret_mint(
        issuer=issuer, ttl_s=10, session={"instructions": "Be brief."}
    )
    assert secret.value.startswith("ek_")

    credentials = await authenticate(handshake(authorization=f"Bearer {secret.value}"))
    assert credentials.kind == "ek"
    assert credentials.tenant.schema_name == org_alpha.schema_name
    assert credentials.session_defaults == {"instructions": "Be brief."}

    from core.redis import redis_client
    from voice.realtime.client_secrets import _redis_key

    assert 0 < await redis_client().ttl(_redis_key(secret.value)) <= 10
    await redis_client().delete(_redis_key(secret.value))
    assert await client_secret_resolve(secret.value) is None


async def test_a_client_secret_of_a_suspended_organization_is_refused(org_alpha):
    issuer = await sync_to_async(resolve_api_key)(await issue(org_alpha))
    secret = await client_secret_mint(issuer=issuer, ttl_s=60, session=None)
    await sync_to_async(organization_set_status)(organization=org_alpha, status="suspended")
    with pytest.raises(OrganizationSuspendedError):
        await authenticate(handshake(authorization=f"Bearer {secret.value}"))


async def test_a_client_secret_is_refused_once_the_key_that_minted_it_is_revoked(org_alpha):
    from tenants.services import api_key_create, api_key_revoke

    issued = await sync_to_async(api_key_create)(organization=org_alpha)
    issuer = await sync_to_async(resolve_api_key)(issued.plaintext)
    secret = await client_secret_mint(issuer=issuer, ttl_s=600, session=None)
    credentials = await authenticate(handshake(authorization=f"Bearer {secret.value}"))
    # The issuer stands for the secret (limits, resume tokens, revocation).
    assert credentials.key_id == issuer.key_id

    await sync_to_async(api_key_revoke)(api_key=issued.api_key)
    with pytest.raises(AuthenticationError):
        await authenticate(handshake(authorization=f"Bearer {secret.value}"))
