"""Short-lived client secrets (`ek_…`) that a server mints for a browser with its secret key.

Kept in Redis under a digest of the secret, with the TTL as expiry, so every web process can
verify them and none outlives its lifetime. Shaped like OpenAI's `client_secrets` endpoint.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from core.redis import redis_client, redis_key
from tenants.db import in_public_schema
from tenants.selectors import ResolvedKey, TenantRef, api_key_still_usable
from voice.engine.errors import InvalidRequestError

DEFAULT_TTL_S = 600
MAX_END_USER_CHARS = 200  # Conversation.end_user_id
MIN_TTL_S = 10
MAX_TTL_S = 7200
PREFIX = "ek_"


@dataclass(frozen=True, slots=True)
class ClientSecret:
    value: str
    expires_at: int  # unix seconds


@dataclass(frozen=True, slots=True)
class ResolvedClientSecret:
    tenant: TenantRef
    issuer_key_id: int
    session_defaults: dict[str, Any]
    # The end user the organization's server minted it for ("" when it named none).
    end_user_id: str = ""


def _redis_key(value: str) -> str:
    return redis_key("ek", hashlib.sha256(value.encode()).hexdigest())


def ttl_from_request(body: Any) -> int:
    """The lifetime asked for in `expires_after` (OpenAI's shape), checked."""
    expires_after = body.get("expires_after") if isinstance(body, dict) else None
    if expires_after is None:
        return DEFAULT_TTL_S
    if (
        not isinstance(expires_after, dict)
        or expires_after.get("anchor", "created_at") != "created_at"
    ):
        raise InvalidRequestError(
            "expires_after must be {anchor: created_at, seconds: N}", param="expires_after"
        )
    seconds = expires_after.get("seconds", DEFAULT_TTL_S)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_TTL_S <= seconds <= MAX_TTL_S
    ):
        raise InvalidRequestError(
            f"expires_after.seconds must be a whole number from {MIN_TTL_S} to {MAX_TTL_S}",
            param="expires_after.seconds",
        )
    return seconds


def end_user_from_request(body: Any) -> str:
    """The end user the minting server vouches for (`"user"`, an AURA extension), checked.

    Sessions opened with the secret are that user's: their memory, their conversations.
    """
    user = body.get("user") if isinstance(body, dict) else None
    if user is None:
        return ""
    if (
        not isinstance(user, str)
        or not 0 < len(user) <= MAX_END_USER_CHARS
        or not user.isprintable()
    ):
        raise InvalidRequestError(
            f"user must be your end user's id: 1-{MAX_END_USER_CHARS} printable characters",
            param="user",
        )
    return user


async def client_secret_mint(
    *, issuer: ResolvedKey, ttl_s: int, session: dict[str, Any] | None, end_user_id: str = ""
) -> ClientSecret:
    value = PREFIX + secrets.token_urlsafe(32)
    record = {
        "organization_id": issuer.tenant.organization_id,
        "slug": issuer.tenant.slug,
        "schema_name": issuer.tenant.schema_name,
        "issuer_key_id": issuer.key_id,
        "session": session or {},
        "end_user_id": end_user_id,
    }
    await redis_client().set(_redis_key(value), json.dumps(record), ex=ttl_s)
    return ClientSecret(value=value, expires_at=int(time.time()) + ttl_s)


async def client_secret_resolve(value: str) -> ResolvedClientSecret | None:
    """The tenant, issuing key, session defaults and end user of a live client secret, or None.

    A secret lives no longer than the key that minted it: a revoked or expired issuer and
    the secret is refused too (a suspended organization is refused by the caller, with its
    own error).
    """
    if not value.startswith(PREFIX) or len(value) > 100:
        return None
    raw = await redis_client().get(_redis_key(value))
    if raw is None:
        return None
    record = json.loads(raw)
    issuer_key_id = int(record["issuer_key_id"])
    if not await in_public_schema(api_key_still_usable, issuer_key_id):
        return None
    tenant = TenantRef(
        organization_id=record["organization_id"],
        slug=record["slug"],
        schema_name=record["schema_name"],
    )
    return ResolvedClientSecret(
        tenant=tenant,
        issuer_key_id=issuer_key_id,
        session_defaults=record["session"],
        end_user_id=str(record.get("end_user_id") or ""),
    )
