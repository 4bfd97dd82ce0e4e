"""Writes of the tenants app: organizations, domains and API keys."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from tenants.db import use_public_schema
from tenants.errors import OrganizationExistsError
from tenants.keys import generate_key
from tenants.migration_state import record_schema_digest
from tenants.models import ApiKey, ApiKeyEvent, Domain, Organization
from tenants.provisioning import schema_build
from tenants.selectors import api_keys_due_for_rotation
from voice.engine.errors import InvalidRequestError
from voice.realtime.control import (
    realtime_sessions_end_for_key,
    realtime_sessions_end_for_organization,
)
from voice.services import agent_create

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
DOMAIN_PATTERN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# "staff" is for platform endpoints: only keys of the platform organization may hold it.
STAFF_SCOPE = "staff"
KNOWN_SCOPES = frozenset(
    {"realtime", "agents", "conversations", "keys", "tools", "usage", "admin", STAFF_SCOPE}
)
DEFAULT_SECRET_SCOPES = ("realtime", "agents", "conversations", "tools", "usage")
# A publishable key sits in web pages: it may only open voice sessions.
PUBLISHABLE_SCOPES = ("realtime",)


def schema_name_for(slug: str) -> str:
    # A fixed prefix keeps tenant schemas apart from `public`, `pg_*` and any other schema.
    return "org_" + slug.replace("-", "_")


def _checked_domain(*, slug: str, domain: str | None, plan: str) -> str:
    """Validate a new organization's slug and plan; return its domain, checked free."""
    if not SLUG_PATTERN.match(slug or ""):
        raise InvalidRequestError(
            "slug must be 3-40 characters of a-z, 0-9 and '-', starting with a letter",
            param="slug",
        )
    if plan not in Organization.Plan.values:
        raise InvalidRequestError(f"unknown plan {plan!r}", param="plan")
    domain = (domain or f"{slug}.{settings.AURA_BASE_DOMAIN}").lower()
    if not DOMAIN_PATTERN.match(domain):
        raise InvalidRequestError(f"{domain!r} is not a host name", param="domain")
    # Tenants are rows of the public schema, whatever schema the caller's connection is in.
    use_public_schema()
    if Organization.objects.filter(slug=slug).exists():
        raise OrganizationExistsError(f"an organization with slug {slug!r} exists")
    if Domain.objects.filter(domain=domain).exists():
        raise OrganizationExistsError(f"the domain {domain!r} is taken", param="domain")
    return domain


def organization_create(
    *, slug: str, name: str, domain: str | None = None, plan: str = Organization.Plan.FREE
) -> Organization:
    """Create an organization, provision its PostgreSQL schema and its primary domain."""
    domain = _checked_domain(slug=slug, domain=domain, plan=plan)
    with transaction.atomic():
        organization = Organization.objects.create(
            schema_name=schema_name_for(slug), slug=slug, name=name.strip() or slug, plan=plan
        )
        Domain.objects.create(domain=domain, tenant=organization, is_primary=True)
        _schema_with_first_agent(organization)
    logger.info(
        "organization created", extra={"organization": slug, "schema": organization.schema_name}
    )
    return organization


def _schema_with_first_agent(organization: Organization) -> None:
    """The organization's schema (copied from the template) and its first agent.

    Call inside a transaction: schema DDL is transactional in PostgreSQL, so a failure leaves
    no half-built schema behind.
    """
    if not schema_exists(organization.schema_name):
        schema_build(organization.schema_name)
    # Every organization can talk from its first minute, on the embedded local models.
    with schema_context(organization.schema_name):
        agent_create(name="Assistant")
    record_schema_digest(organization.schema_name)


def organization_register(
    *, slug: str, name: str, domain: str | None = None, plan: str = Organization.Plan.FREE
) -> Organization:
    """Reserve a new organization (status "provisioning") and have a Celery task build it.

    The row and its domain exist at once, so the slug and domain are taken; requests to the
    domain and its keys are refused until `organization_provision` has made it active.
    """
    domain = _checked_domain(slug=slug, domain=domain, plan=plan)
    with transaction.atomic():
        organization = Organization.objects.create(
            schema_name=schema_name_for(slug),
            slug=slug,
            name=name.strip() or slug,
            plan=plan,
            status=Organization.Status.PROVISIONING,
        )
        Domain.objects.create(domain=domain, tenant=organization, is_primary=True)
        organization_id = organization.pk
        transaction.on_commit(lambda: _queue_provisioning(organization_id))
    logger.info("organization registered", extra={"organization": slug})
    organization.refresh_from_db(fields=["status"])
    return organization


def _queue_provisioning(organization_id: int) -> None:
    """Queue the provisioning task; if the broker refuses it, the organization is failed
    (and can be retried) rather than left provisioning forever."""
    from tenants.tasks import provision_organization

    try:
        provision_organization.delay(organization_id)
    except Exception:
        logger.exception("could not queue provisioning", extra={"organization": organization_id})
        Organization.objects.filter(
            pk=organization_id, status=Organization.Status.PROVISIONING
        ).update(status=Organization.Status.FAILED)


@transaction.atomic
def organization_retry_provisioning(*, organization: Organization) -> Organization:
    """Queue the provisioning of an organization whose provisioning failed, again."""
    if organization.status != Organization.Status.FAILED:
        raise InvalidRequestError(
            f"only a failed organization can be provisioned again (this one is "
            f"{organization.status})",
            code="invalid_status",
        )
    organization = organization_set_status(
        organization=organization, status=Organization.Status.PROVISIONING
    )
    organization_id = organization.pk
    transaction.on_commit(lambda: _queue_provisioning(organization_id))
    return organization


def organization_provision(*, organization_id: int) -> Organization:
    """Build a registered organization's schema and first agent; active, or failed (logged).

    Idempotent: an organization that is not provisioning any more is left as it is, so a
    redelivered task does nothing.
    """
    use_public_schema()
    organization = Organization.objects.get(pk=organization_id)
    if organization.status != Organization.Status.PROVISIONING:
        return organization
    try:
        with transaction.atomic():
            _schema_with_first_agent(organization)
    except Exception:
        logger.exception("provisioning failed", extra={"organization": organization.slug})
        use_public_schema()
        return organization_set_status(organization=organization, status=Organization.Status.FAILED)
    use_public_schema()
    logger.info("organization provisioned", extra={"organization": organization.slug})
    return organization_set_status(organization=organization, status=Organization.Status.ACTIVE)


@transaction.atomic
def organization_suspend(*, organization: Organization) -> Organization:
    if organization.status not in (Organization.Status.ACTIVE, Organization.Status.SUSPENDED):
        raise InvalidRequestError(
            f"an organization that is {organization.status} cannot be suspended",
            code="invalid_status",
        )
    return organization_set_status(organization=organization, status=Organization.Status.SUSPENDED)


@transaction.atomic
def organization_resume(*, organization: Organization) -> Organization:
    if organization.status not in (Organization.Status.ACTIVE, Organization.Status.SUSPENDED):
        raise InvalidRequestError(
            f"an organization that is {organization.status} cannot be resumed",
            code="invalid_status",
        )
    return organization_set_status(organization=organization, status=Organization.Status.ACTIVE)


@transaction.atomic
def organization_set_status(*, organization: Organization, status: str) -> Organization:
    if status not in Organization.Status.values:
        raise InvalidRequestError(f"unknown status {status!r}", param="status")
    organization.status = status
    organization.save(update_fields=["status"])
    if status != Organization.Status.ACTIVE:
        _end_sessions_of_organization_on_commit(organization.pk, status)
    return organization


def _end_sessions_of_organization_on_commit(organization_id: int, status: str) -> None:
    """Live realtime sessions of an organization that is no longer active end within
    seconds (on every server), once the change is committed."""
    transaction.on_commit(
        lambda: realtime_sessions_end_for_organization(
            organization_id=organization_id, reason=f"This organization is {status}."
        ),
        robust=True,
    )


def _end_sessions_of_key_on_commit(key_id: int, reason: str) -> None:
    """Live realtime sessions opened with a key (or with a client secret it minted) end
    within seconds (on every server), once its revocation is committed."""
    transaction.on_commit(
        lambda: realtime_sessions_end_for_key(key_id=key_id, reason=reason), robust=True
    )


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


@transaction.atomic
def organization_set_budget(
    *,
    organization: Organization,
    monthly_budget_usd: Decimal | None,
    warning_percent: int | None = None,
) -> Organization:
    if monthly_budget_usd is not None and monthly_budget_usd < 0:
        raise InvalidRequestError("a budget cannot be negative", param="monthly_budget_usd")
    if warning_percent is not None and not 1 <= warning_percent <= 100:
        raise InvalidRequestError(
            "the warning threshold is a percentage of the budget, 1-100", param="warning_percent"
        )
    organization.monthly_budget_usd = monthly_budget_usd
    fields = ["monthly_budget_usd"]
    if warning_percent is not None:
        organization.budget_warning_percent = warning_percent
        fields.append("budget_warning_percent")
    organization.save(update_fields=fields)
    return organization


@transaction.atomic
def platform_ensure_public_tenant(*, domains: tuple[str, ...]) -> Organization:
    """The row django-tenants maps platform hosts (localhost, the platform domain) to."""
    use_public_schema()
    public, _ = Organization.objects.get_or_create(
        schema_name="public", defaults={"name": "AURA platform", "slug": "platform"}
    )
    for index, domain in enumerate(domains):
        Domain.objects.get_or_create(
            domain=domain.lower(), defaults={"tenant": public, "is_primary": index == 0}
        )
    return public


# --- Organization admins ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminInvite:
    """An organization admin's one-time link to choose a password (never the password)."""

    username: str
    email: str
    created: bool
    set_password_url: str
    expires_at: datetime


def _organization_url(organization: Organization, path: str) -> str:
    port = f":{settings.AURA_PUBLIC_PORT}" if settings.AURA_PUBLIC_PORT else ""
    return f"{settings.AURA_PUBLIC_SCHEME}://{organization.get_primary_domain()}{port}{path}"


def organization_admin_url(organization: Organization) -> str:
    """Where an organization's admin signs in."""
    return _organization_url(organization, "/admin/")


def organization_admin_invite(*, organization: Organization, email: str, actor: str) -> AdminInvite:
    """Create (or reset) an organization's admin in its schema; return a set-password link.

    The user is a superuser of the organization's own admin site only (its users live in its
    schema). A reset makes the old password unusable at once. The link is Django's
    password-reset token on the organization's domain: valid for PASSWORD_RESET_TIMEOUT
    seconds, and spent as soon as a password is set (the token hashes the password).
    """
    email = _checked_admin_email(email)
    if organization.schema_name == get_public_schema_name() or organization.status not in (
        Organization.Status.ACTIVE,
        Organization.Status.SUSPENDED,
    ):
        raise InvalidRequestError(
            f"the organization {organization.slug!r} is {organization.status}: "
            "it has no admin site yet",
            code="invalid_status",
        )
    with schema_context(organization.schema_name), transaction.atomic():
        user, created = _admin_user_reset(email)
        path = reverse(
            "admin:set_password",
            urlconf=settings.ROOT_URLCONF,
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    logger.info(
        "organization admin invited",
        extra={"organization": organization.slug, "new_user": created, "actor": actor},
    )
    return AdminInvite(
        username=user.get_username(),
        email=email,
        created=created,
        set_password_url=_organization_url(organization, path),
        expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
    )


def _checked_admin_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidRequestError(f"{email!r} is not an email address", param="email") from error
    return email


def _admin_user_reset(email: str) -> tuple[User, bool]:
    """The active superuser named `email` in the current schema, with no usable password."""
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    user.email = email
    user.is_active = True
    user.is_staff = True
    user.is_superuser = True
    user.set_unusable_password()
    user.save()
    return user, created
