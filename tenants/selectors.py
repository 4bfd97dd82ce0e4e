"""Reads of the tenants app, and the one place every tenant is resolved from.

HTTP requests are resolved by host (django-tenants' middleware, `tenants.middleware`), REST and
WebSocket clients by API key (`resolve_api_key`), Celery tasks by schema name
(`organization_by_schema`). The result is a plain `TenantRef`, safe to keep across `await`s,
because "the current schema" of a connection is not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.errors import AuthenticationError, OrganizationSuspendedError, PermissionDeniedError
from tenants.keys import matches, parse_prefix
from tenants.models import ApiKey, ApiKeyEvent, Organization

logger = logging.getLogger(__name__)

# The one scope of the platform's own endpoints (tenants.services.STAFF_SCOPE; not imported
# from there, which imports this module).
PLATFORM_SCOPE = "staff"
# last_used_at is informative; writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TenantRef:
    organization_id: int
    slug: str
    schema_name: str


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    tenant: TenantRef
    key_id: int
    kind: str
    prefix: str
    scopes: tuple[str, ...]
    # Publishable keys: the agents it may open sessions with (empty: the default agent).
    allowed_agents: tuple[str, ...] = ()


def tenant_ref(organization: Organization) -> TenantRef:
    return TenantRef(
        organization_id=organization.pk,
        slug=organization.slug,
        schema_name=organization.schema_name,
    )


def organization_by_schema(schema_name: str) -> Organization:
    with schema_context(get_public_schema_name()):
        return Organization.objects.get(schema_name=schema_name)


def organization_by_slug(slug: str) -> Organization:
    with schema_context(get_public_schema_name()):
        return Organization.objects.get(slug=slug)


def resolve_api_key(
    plaintext: str, *, required_scope: str | None = None, origin: str | None = None
) -> ResolvedKey:
    """The organization a key belongs to, after every check a request must pass.

    Raises AuthenticationError with the same message for every kind of bad key (unknown,
    malformed, revoked, expired), so a caller learns nothing about other tenants' keys.
    """
    prefix = parse_prefix(plaintext)
    if prefix is None:
        raise AuthenticationError("Invalid API key.")
    with schema_context(get_public_schema_name()):
        api_key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
        if (
            api_key is None
            or not matches(plaintext, api_key.secret_hash)
            or not api_key.is_usable()
        ):
            raise AuthenticationError("Invalid API key.")
        organization = api_key.organization
        if not organization.is_active:
            raise OrganizationSuspendedError("This organization is suspended.")
        if required_scope not in (None, PLATFORM_SCOPE) and _is_platform(organization):
            # The platform's keys manage organizations; nothing an organization does (a voice
            # session, a client secret) may run in the public schema, whatever the key's scopes.
            raise PermissionDeniedError(
                "Platform keys act on platform endpoints only; use an organization's key.",
                code="organization_key_required",
            )
        if required_scope is not None and required_scope not in api_key.scopes:
            raise PermissionDeniedError(f"This key lacks the {required_scope!r} scope.")
        if api_key.kind == ApiKey.Kind.PUBLISHABLE and (
            origin is None or origin.lower() not in api_key.allowed_origins
        ):
            raise PermissionDeniedError("This key may not be used from this origin.")
        _touch(api_key)
    return ResolvedKey(
        tenant=tenant_ref(organization),
        key_id=api_key.pk,
        kind=api_key.kind,
        prefix=api_key.prefix,
        scopes=tuple(api_key.scopes),
        allowed_agents=tuple(api_key.allowed_agents),
    )


def api_key_still_usable(key_id: int) -> bool:
    """Whether a key that was valid once (the issuer of a client secret) still is: not
    revoked, not expired (whether its organization is active is the caller's check)."""
    with schema_context(get_public_schema_name()):
        api_key = ApiKey.objects.filter(pk=key_id).first()
        return api_key is not None and api_key.is_usable()


def _is_platform(organization: Organization) -> bool:
    return bool(organization.schema_name == get_public_schema_name())


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


def api_keys_due_for_rotation(*, now: datetime) -> list[ApiKey]:
    """Usable auto-rotate keys older than AURA_KEY_AUTO_ROTATE_AFTER_DAYS, not yet rotated."""
    cutoff = now - timedelta(days=settings.AURA_KEY_AUTO_ROTATE_AFTER_DAYS)
    return list(
        ApiKey.objects.filter(
            auto_rotate=True,
            revoked_at__isnull=True,
            replaced_by__isnull=True,
            created_at__lte=cutoff,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("organization")
        .order_by("created_at")
    )


def api_key_events(*, organization: Organization, limit: int = 100) -> list[ApiKeyEvent]:
    return list(ApiKeyEvent.objects.filter(organization=organization)[:limit])
