"""Writes of API keys: issue, revoke, rotate, expire, each recorded in the key audit log."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from core.errors import InvalidRequestError
from tenants.keys import generate_key
from tenants.models import ApiKey, ApiKeyEvent, Organization
from tenants.selectors import api_keys_due_for_rotation
from tenants.signals import (
    api_key_disabled,
    send_on_commit,
)

logger = logging.getLogger(__name__)

# "staff" is for platform endpoints: only keys of the platform organization may hold it.
STAFF_SCOPE = "staff"
KNOWN_SCOPES = frozenset(
    {"realtime", "agents", "conversations", "keys", "tools", "usage", "admin", STAFF_SCOPE}
)
DEFAULT_SECRET_SCOPES = ("realtime", "agents", "conversations", "tools", "usage")
# A publishable key sits in web pages: it may only open voice sessions.
PUBLISHABLE_SCOPES = ("realtime",)


def _end_sessions_of_key_on_commit(key_id: int, reason: str) -> None:
    """Live realtime sessions opened with a key (or with a client secret it minted) end
    within seconds (on every server), once its revocation is committed."""
    send_on_commit(api_key_disabled, key_id=key_id, reason=reason)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: the only moment its plaintext exists."""

    api_key: ApiKey
    plaintext: str


def _clean_scopes(scopes: tuple[str, ...] | list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise InvalidRequestError(f"unknown scopes: {', '.join(unknown)}", param="scopes")
    return sorted(set(scopes))


def _clean_origins(origins: tuple[str, ...] | list[str]) -> list[str]:
    cleaned = []
    for origin in origins:
        if not re.match(r"^https?://[^/\s]+$", origin or ""):
            raise InvalidRequestError(
                f"origin {origin!r} must look like https://example.com (scheme and host, no path)",
                param="allowed_origins",
            )
        cleaned.append(origin.lower())
    return cleaned


def api_key_scopes_for(
    *, kind: str, requested: Sequence[str] | None, held: Sequence[str]
) -> list[str]:
    """The scopes a new key of `kind` gets when a key holding `held` asks for `requested`.

    A publishable key holds `realtime` and nothing else, whatever is asked; a secret key that
    names no scopes gets the standard ones its issuer holds. Whether the issuer may grant the
    result is the caller's check, on exactly this list.
    """
    if kind == ApiKey.Kind.PUBLISHABLE:
        extra = sorted(set(requested or ()) - set(PUBLISHABLE_SCOPES))
        if extra:
            raise InvalidRequestError(
                f"a publishable key holds the realtime scope only, not: {', '.join(extra)}",
                param="scopes",
            )
        return list(PUBLISHABLE_SCOPES)
    if not requested:
        return [scope for scope in DEFAULT_SECRET_SCOPES if scope in held]
    return list(requested)


def _clean_agents(kind: str, agents: Sequence[str]) -> list[str]:
    """Agent names a publishable key is limited to (matched when a session starts)."""
    if agents and kind != ApiKey.Kind.PUBLISHABLE:
        raise InvalidRequestError(
            "only publishable keys are limited to agents; a secret key may use any",
            param="allowed_agents",
        )
    if len(agents) > 50 or any(
        not isinstance(name, str) or not 0 < len(name) <= 100 for name in agents
    ):
        raise InvalidRequestError(
            "allowed_agents must be at most 50 agent names of 1-100 characters",
            param="allowed_agents",
        )
    return list(dict.fromkeys(agents))


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    kind: str = ApiKey.Kind.SECRET,
    name: str = "",
    scopes: tuple[str, ...] | list[str] = DEFAULT_SECRET_SCOPES,
    allowed_origins: tuple[str, ...] | list[str] = (),
    allowed_agents: Sequence[str] = (),
    expires_at: datetime | None = None,
    auto_rotate: bool = False,
    actor: str = "system",
) -> IssuedKey:
    """Issue a new key; its plaintext is returned once and never stored."""
    if kind not in ApiKey.Kind.values:
        raise InvalidRequestError(f"unknown key kind {kind!r}", param="kind")
    if STAFF_SCOPE in scopes and organization.schema_name != get_public_schema_name():
        raise InvalidRequestError(
            "only keys of the platform organization may hold the 'staff' scope", param="scopes"
        )
    if kind == ApiKey.Kind.PUBLISHABLE:
        # A publishable key sits in web pages: it may only open voice sessions, from its origins.
        scopes = PUBLISHABLE_SCOPES
        if not allowed_origins:
            raise InvalidRequestError(
                "a publishable key needs at least one allowed origin", param="allowed_origins"
            )
    for _ in range(5):
        generated = generate_key(kind)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    organization=organization,
                    kind=kind,
                    name=name,
                    prefix=generated.prefix,
                    secret_hash=generated.secret_hash,
                    scopes=_clean_scopes(scopes),
                    allowed_origins=_clean_origins(allowed_origins),
                    allowed_agents=_clean_agents(kind, allowed_agents),
                    expires_at=expires_at,
                    auto_rotate=auto_rotate,
                )
        except IntegrityError:
            logger.warning("api key prefix collision, generating another")
            continue
        api_key_event_record(
            api_key=api_key,
            action=ApiKeyEvent.Action.CREATED,
            actor=actor,
            detail={"kind": kind, "scopes": api_key.scopes, "auto_rotate": auto_rotate},
        )
        return IssuedKey(api_key=api_key, plaintext=generated.plaintext)
    raise RuntimeError("could not generate a unique API key prefix")


@transaction.atomic
def api_key_event_record(
    *, api_key: ApiKey, action: str, actor: str = "system", detail: dict[str, object] | None = None
) -> ApiKeyEvent:
    """Append to the key audit log (called by every key service, in its transaction)."""
    return ApiKeyEvent.objects.create(
        organization_id=api_key.organization_id,
        api_key=api_key,
        key_prefix=api_key.prefix,
        action=action,
        actor=actor[:120],
        detail=detail or {},
    )


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: str = "system") -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        api_key_event_record(api_key=api_key, action=ApiKeyEvent.Action.REVOKED, actor=actor)
        _end_sessions_of_key_on_commit(api_key.pk, "The API key of this session was revoked.")
    return api_key


@transaction.atomic
def api_key_rotate(
    *, api_key: ApiKey, grace_seconds: int | None = None, actor: str = "system"
) -> IssuedKey:
    """Issue a successor with the same settings; the old key lives on for a grace period."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not api_key.is_usable():
        raise InvalidRequestError("a revoked or expired key cannot be rotated")
    if grace_seconds is None:
        grace_seconds = settings.AURA_KEY_ROTATION_GRACE_SECONDS
    if grace_seconds < 0:
        raise InvalidRequestError("grace period cannot be negative", param="grace_seconds")
    successor = api_key_create(
        organization=api_key.organization,
        kind=api_key.kind,
        name=api_key.name,
        scopes=api_key.scopes,
        allowed_origins=api_key.allowed_origins,
        allowed_agents=api_key.allowed_agents,
        auto_rotate=api_key.auto_rotate,
        actor=actor,
    )
    grace_ends = timezone.now() + timedelta(seconds=grace_seconds)
    if api_key.expires_at is None or api_key.expires_at > grace_ends:
        api_key.expires_at = grace_ends
    api_key.replaced_by = successor.api_key
    api_key.save(update_fields=["expires_at", "replaced_by"])
    if grace_seconds == 0:
        # No grace: the key stops working now (a grace period ends in api_keys_disable_expired).
        _end_sessions_of_key_on_commit(api_key.pk, "The API key of this session was replaced.")
    api_key_event_record(
        api_key=api_key,
        action=ApiKeyEvent.Action.ROTATED,
        actor=actor,
        detail={
            "successor": successor.api_key.prefix,
            "valid_until": api_key.expires_at.isoformat(),
        },
    )
    return successor


def api_keys_rotate_due(*, now: datetime | None = None) -> list[str]:
    """Rotate every auto-rotate key older than its maximum age; return the old prefixes.

    Each key is rotated in its own transaction, so one failure leaves the others rotated.
    """
    now = now or timezone.now()
    rotated = []
    for api_key in api_keys_due_for_rotation(now=now):
        try:
            api_key_rotate(api_key=api_key, actor="system:auto-rotate")
        except InvalidRequestError:
            # Revoked or expired between the query and the lock: nothing left to rotate.
            continue
        rotated.append(api_key.prefix)
    if rotated:
        logger.info("auto-rotated %d api keys", len(rotated), extra={"keys": rotated})
    return rotated


@transaction.atomic
def api_keys_disable_expired(*, now: datetime | None = None) -> list[str]:
    """Disable keys past their expiry (a rotated key's grace included) and log each one."""
    now = now or timezone.now()
    expired = list(
        ApiKey.objects.select_for_update(skip_locked=True).filter(
            revoked_at__isnull=True, expires_at__lte=now
        )
    )
    for api_key in expired:
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at"])
        api_key_event_record(
            api_key=api_key,
            action=ApiKeyEvent.Action.EXPIRED,
            actor="system:expiry",
            detail={"expired_at": api_key.expires_at.isoformat() if api_key.expires_at else None},
        )
        _end_sessions_of_key_on_commit(api_key.pk, "The API key of this session expired.")
    return [api_key.prefix for api_key in expired]
