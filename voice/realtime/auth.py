"""Who is connecting to /v1/realtime: credentials from the handshake, resolved to a tenant.

Accepted, in this order:
- `Authorization: Bearer sk_…` (what the official openai SDK sends) or `Bearer ek_…`;
- the subprotocol `openai-insecure-api-key.<key>` (how browsers pass a key, as with OpenAI);
A publishable `pk_…` key additionally needs its page's `Origin` to be one of the key's origins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.middleware import BaseMiddleware

from tenants.db import in_public_schema
from tenants.errors import AuthenticationError, OrganizationSuspendedError
from tenants.selectors import TenantRef, organization_by_schema, resolve_api_key
from voice.engine.errors import AuraError
from voice.realtime.client_secrets import client_secret_resolve

KEY_SUBPROTOCOL_PREFIX = "openai-insecure-api-key."
SCOPE_CREDENTIALS = "aura_credentials"
SCOPE_AUTH_ERROR = "aura_auth_error"


@dataclass(frozen=True, slots=True)
class RealtimeCredentials:
    tenant: TenantRef
    kind: str  # "sk", "pk" or "ek"
    key_id: int | None
    session_defaults: dict[str, Any] = field(default_factory=dict)


def header(scope: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def presented_key(scope: dict[str, Any]) -> str | None:
    authorization = header(scope, "authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    for subprotocol in scope.get("subprotocols", ()):
        if subprotocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return subprotocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    return None


async def authenticate(scope: dict[str, Any]) -> RealtimeCredentials:
    key = presented_key(scope)
    if not key:
        raise AuthenticationError(
            "No API key: send 'Authorization: Bearer <key>' or the subprotocol "
            "'openai-insecure-api-key.<key>'.",
            code="missing_api_key",
        )
    if key.startswith("ek_"):
        return await _from_client_secret(key)
    resolved = await in_public_schema(
        resolve_api_key, key, required_scope="realtime", origin=header(scope, "origin")
    )
    return RealtimeCredentials(tenant=resolved.tenant, kind=resolved.kind, key_id=resolved.key_id)


async def _from_client_secret(value: str) -> RealtimeCredentials:
    found = await client_secret_resolve(value)
    if found is None:
        raise AuthenticationError("Invalid or expired client secret.")
    organization = await in_public_schema(organization_by_schema, found.tenant.schema_name)
    if not organization.is_active:
        raise OrganizationSuspendedError("This organization is suspended.")
    # The issuing key stands for the secret: limits, resume tokens and revocation go by it.
    return RealtimeCredentials(
        tenant=found.tenant,
        kind="ek",
        key_id=found.issuer_key_id,
        session_defaults=found.session_defaults,
    )


class RealtimeAuthMiddleware(BaseMiddleware):
    """Resolves the credentials once per connection; the consumer decides how to refuse."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        try:
            scope[SCOPE_CREDENTIALS] = await authenticate(scope)
            scope[SCOPE_AUTH_ERROR] = None
        except AuraError as error:
            scope[SCOPE_CREDENTIALS] = None
            scope[SCOPE_AUTH_ERROR] = error
        return await super().__call__(scope, receive, send)
