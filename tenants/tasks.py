"""Background work on tenants: the API key lifecycle (public schema)."""

from __future__ import annotations

from celery import shared_task

from tenants.db import use_public_schema
from tenants.services import api_keys_disable_expired, api_keys_rotate_due


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
    from tenants.services import organization_provision

    return organization_provision(organization_id=organization_id).status
