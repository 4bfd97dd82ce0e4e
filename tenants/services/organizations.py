"""Writes of organizations: creation, provisioning, status, budget (public schema)."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context, schema_exists

from core.errors import InvalidRequestError
from tenants.db import use_public_schema
from tenants.errors import OrganizationExistsError
from tenants.migration_state import record_schema_digest
from tenants.models import Domain, Organization
from tenants.provisioning import schema_build
from tenants.signals import (
    organization_deactivated,
    organization_registered,
    organization_schema_created,
    send_on_commit,
)

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
DOMAIN_PATTERN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


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
    """The organization's schema (copied from the template) and its first rows.

    Call inside a transaction: schema DDL is transactional in PostgreSQL, so a failure leaves
    no half-built schema behind. The apps above seed the schema (voice: the first agent, so
    every organization can talk from its first minute) through `organization_schema_created`.
    """
    if not schema_exists(organization.schema_name):
        schema_build(organization.schema_name)
    with schema_context(organization.schema_name):
        organization_schema_created.send(sender=Organization, organization=organization)
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
        send_on_commit(organization_registered, organization_id=organization_id)
    logger.info("organization registered", extra={"organization": slug})
    organization.refresh_from_db(fields=["status"])
    return organization


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
    send_on_commit(organization_registered, organization_id=organization_id)
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
    send_on_commit(organization_deactivated, organization_id=organization_id, status=status)


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
