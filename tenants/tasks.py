"""Background work on tenants: provisioning and the API key lifecycle (public schema)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from tenants.db import use_public_schema
from tenants.models import Organization
from tenants.services.keys import api_keys_disable_expired, api_keys_rotate_due
from tenants.services.organizations import organization_provision

logger = logging.getLogger(__name__)


@shared_task(name="tenants.rotate_api_keys")
def rotate_api_keys() -> dict[str, list[str]]:
    """Beat entry point: rotate auto-rotate keys past their age, disable expired keys.

    Rotation runs first, so a key rotated now keeps its grace period; both are audited in
    `ApiKeyEvent`. Returns the prefixes touched (never a secret).
    """
    use_public_schema()
    rotated = api_keys_rotate_due()
    expired = api_keys_disable_expired()
    return {"rotated": rotated, "expired": expired}


@shared_task(name="tenants.provision_organization")
def provision_organization(organization_id: int) -> str:
    """Build the schema of an organization registered through the platform API.

    Not a TenantTask: the schema does not exist yet. Returns the organization's new status.
    """
    return organization_provision(organization_id=organization_id).status


def queue_provisioning(*, organization_id: int, **kwargs: Any) -> None:
    """Receiver of `organization_registered` (connected in TenantsConfig.ready): queue the
    provisioning; if the broker refuses it, the organization is failed (and can be retried)
    rather than left provisioning forever."""
    try:
        provision_organization.delay(organization_id)
    except Exception:
        logger.exception("could not queue provisioning", extra={"organization": organization_id})
        Organization.objects.filter(
            pk=organization_id, status=Organization.Status.PROVISIONING
        ).update(status=Organization.Status.FAILED)
