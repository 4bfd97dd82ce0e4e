"""Every REST operation, tried on alpha's objects with every credential that must not reach them.

test_isolation.py tries another organization's secret key; this tries the rest of the wrong
side: no key, a publishable or client-secret key, a revoked, expired or forged key, a key
without the scope, the platform's key on an organization's data, an organization's key on the
platform's endpoints or on another organization's domain, and a suspended organization's key.
The operations come from the OpenAPI document (a new endpoint is attacked the day it is added);
the client-secret endpoint beside it is an async view that reads committed keys only, so it is
attacked in a transactional test of its own. Each attempt is answered with the expected
problem, shows nothing of alpha, and alpha's rows are the same afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from aura_project.tests.api.conftest import Api
from aura_project.tests.api.test_isolation import (
    ALPHA_SECRET_WORD,
    BODIES,
    _alpha_ids,
    _operations,
    _snapshot,
)
from aura_project.tests.attacks import attack
from tenants.db import use_public_schema
from tenants.models import ApiKey, Organization
from tenants.selectors import resolve_api_key
from tenants.services import api_key_create, api_key_revoke, organization_suspend
from voice.realtime.client_secrets import client_secret_mint

pytestmark = pytest.mark.adversarial


@dataclass(frozen=True)
class Attacker:
    """A credential from the wrong side, and how every operation must answer it."""

    name: str
    status: int
    codes: frozenset[str]
    hosts: tuple[str, ...] = ("localhost", "alpha.localhost")
    # Operations this credential may legitimately perform (not an attack for it).
    allowed: Callable[[str, str], bool] = lambda method, path: False


def _platform_operation(method: str, path: str) -> bool:
    return path.startswith("/api/v1/platform/")


def _organization_operation(method: str, path: str) -> bool:
    return not _platform_operation(method, path)


ATTACKERS = [
    Attacker("no key", 401, frozenset({"missing_api_key"})),
    Attacker("basic auth", 401, frozenset({"missing_api_key"})),
    Attacker("alpha publishable key", 401, frozenset({"invalid_api_key"})),
    Attacker("alpha client secret", 401, frozenset({"invalid_api_key"})),
    Attacker("alpha revoked key", 401, frozenset({"invalid_api_key"})),
    Attacker("alpha expired key", 401, frozenset({"invalid_api_key"})),
    Attacker("alpha forged key", 401, frozenset({"invalid_api_key"})),
    Attacker("alpha key without scopes", 403, frozenset({"missing_scope", "permission_denied"})),
    # Alpha's full key is alpha's on its own domain; on beta's it is worth nothing.
    Attacker(
        "alpha key on beta's domain", 401, frozenset({"invalid_api_key"}), ("beta.localhost",)
    ),
    # Alpha's full key may act in alpha, never on the platform's endpoints.
    Attacker(
        "alpha key on platform endpoints",
        403,
        frozenset({"missing_scope"}),
        allowed=_organization_operation,
    ),
    # The platform's staff key manages organizations, never their data.
    Attacker(
        "platform staff key",
        403,
        frozenset({"organization_key_required", "permission_denied"}),
        ("localhost",),
        allowed=_platform_operation,
    ),
    Attacker("suspended alpha's key", 403, frozenset({"organization_suspended"})),
]


def _credential(name: str, org_alpha: Organization, platform: Organization) -> str | None:
    """The Authorization header value of one attacker (None: no header at all)."""
    if name == "no key":
        return None
    if name == "basic auth":
        return "Basic YWxwaGE6cGFzc3dvcmQ="
    if name == "alpha publishable key":
        issued = api_key_create(
            organization=org_alpha, kind="pk", allowed_origins=["https://alpha.example"]
        )
        return f"Bearer {issued.plaintext}"
    if name == "alpha client secret":
        issuer = resolve_api_key(
            api_key_create(organization=org_alpha, scopes=["realtime"]).plaintext
        )
        minted = async_to_sync(client_secret_mint)(issuer=issuer, ttl_s=60, session=None)
        return f"Bearer {minted.value}"
    if name == "alpha revoked key":
        issued = api_key_create(organization=org_alpha, scopes=_all_scopes())
        api_key_revoke(api_key=issued.api_key)
        return f"Bearer {issued.plaintext}"
    if name == "alpha expired key":
        issued = api_key_create(
            organization=org_alpha,
            scopes=_all_scopes(),
            expires_at=timezone.now() - timedelta(seconds=1),
        )
        return f"Bearer {issued.plaintext}"
    if name == "alpha forged key":
        # A real prefix of alpha, with a secret that is not the key's.
        real = api_key_create(organization=org_alpha, scopes=_all_scopes()).api_key
        return f"Bearer {real.prefix}_{'A' * 43}"
    if name == "alpha key without scopes":
        return f"Bearer {api_key_create(organization=org_alpha, scopes=[]).plaintext}"
    if name == "platform staff key":
        issued = api_key_create(organization=platform, scopes=["staff", "realtime"])
        return f"Bearer {issued.plaintext}"
    # Alpha's own full key: the attack is where (or when) it is used.
    return f"Bearer {api_key_create(organization=org_alpha, scopes=_all_scopes()).plaintext}"


def _all_scopes() -> list[str]:
    from aura_project.tests.api.conftest import ALL_ORGANIZATION_SCOPES

    return ALL_ORGANIZATION_SCOPES


def _concrete(template: str, ids: dict[str, str]) -> str:
    resource = template.split("/")[3]
    return (
        template.replace("{id}", ids.get(resource, ""))
        .replace("{provider}", "openai")
        .replace("{conversation_id}", ids["conversations"])
    )


def _send(client: Api, authorization: str | None, method: str, path: str, body: Any) -> Any:
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    if method in ("GET", "DELETE"):
        return getattr(client, method.lower())(path, **extra)
    return getattr(client, method.lower())(path, body, **extra)


@pytest.mark.parametrize("attacker", ATTACKERS, ids=lambda attacker: attacker.name)
def test_a_wrong_credential_reaches_nothing_of_alpha(
    attacker: Attacker,
    org_alpha: Organization,
    org_beta: Organization,
    platform: Organization,
    alpha: Api,
) -> None:
    ids = _alpha_ids(org_alpha, alpha)
    authorization = _credential(attacker.name, org_alpha, platform)
    if attacker.name == "suspended alpha's key":
        organization_suspend(organization=org_alpha)
    before = _snapshot(org_alpha)
    forbidden = [
        ALPHA_SECRET_WORD,
        "Alpha private",
        "alpha_tool",
        "alpha second",
        ids["conversations"],
        *ApiKey.objects.filter(organization=org_alpha).values_list("prefix", flat=True),
    ]
    operations = _operations(alpha)
    tried = 0
    for host in attacker.hosts:
        client = Api(None, host=host)
        for method, template in operations:
            if attacker.allowed(method, template):
                continue
            resource = template.split("/")[3]
            response = _send(
                client, authorization, method, _concrete(template, ids), BODIES.get(resource, {})
            )
            tried += 1
            where = (attacker.name, method, template, host)
            assert response.status_code == attacker.status, (*where, response.content)
            assert response["Content-Type"] == "application/problem+json", where
            document = response.json()
            assert document["code"] in attacker.codes, (*where, document)
            content = response.content.decode()
            for secret in forbidden:
                assert secret not in content, (*where, secret)
    attack("rest", tried)
    assert tried >= 10
    assert _snapshot(org_alpha) == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "attacker",
    [a for a in ATTACKERS if a.name not in ("alpha key on platform endpoints",)],
    ids=lambda attacker: attacker.name,
)
def test_a_wrong_credential_mints_no_client_secret(
    attacker: Attacker, org_alpha: Organization, org_beta: Organization, platform: Organization
) -> None:
    """POST /v1/realtime/client_secrets takes an organization's secret key with 'realtime'.

    (Alpha's key on beta's domain is still alpha's key here: the secret it mints is alpha's.)
    """
    authorization = _credential(attacker.name, org_alpha, platform)
    if attacker.name == "suspended alpha's key":
        organization_suspend(organization=org_alpha)
    client = Api(None, host=attacker.hosts[0])
    try:
        response = _send(client, authorization, "POST", "/v1/realtime/client_secrets", {})
    finally:
        # A request on an organization's domain leaves the connection in its schema, and the
        # transactional test's flush would then empty that organization's tables.
        use_public_schema()
    attack("rest")
    if attacker.name == "alpha key on beta's domain":
        assert response.status_code == 200
        return
    where = (attacker.name, response.content)
    # (The origin check refuses a publishable key first: no origin is ever one of its own here.)
    status = 403 if attacker.name == "alpha publishable key" else attacker.status
    assert response.status_code == status, where
    assert response["Content-Type"] == "application/problem+json", where
    assert "value" not in response.json(), where
