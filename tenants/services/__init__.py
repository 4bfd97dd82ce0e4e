"""Writes of the tenants app: organizations, API keys, organization admins.

One module per entity; callers import from here.
"""

from tenants.services.admins import AdminInvite, organization_admin_invite, organization_admin_url
from tenants.services.keys import (
    DEFAULT_SECRET_SCOPES,
    KNOWN_SCOPES,
    PUBLISHABLE_SCOPES,
    STAFF_SCOPE,
    IssuedKey,
    api_key_create,
    api_key_event_record,
    api_key_revoke,
    api_key_rotate,
    api_key_scopes_for,
    api_keys_disable_expired,
    api_keys_rotate_due,
)
from tenants.services.organizations import (
    organization_create,
    organization_provision,
    organization_register,
    organization_resume,
    organization_retry_provisioning,
    organization_set_budget,
    organization_set_status,
    organization_suspend,
    platform_ensure_public_tenant,
    schema_name_for,
)

__all__ = [
    "DEFAULT_SECRET_SCOPES",
    "KNOWN_SCOPES",
    "PUBLISHABLE_SCOPES",
    "STAFF_SCOPE",
    "AdminInvite",
    "IssuedKey",
    "api_key_create",
    "api_key_event_record",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_scopes_for",
    "api_keys_disable_expired",
    "api_keys_rotate_due",
    "organization_admin_invite",
    "organization_admin_url",
    "organization_create",
    "organization_provision",
    "organization_register",
    "organization_resume",
    "organization_retry_provisioning",
    "organization_set_budget",
    "organization_set_status",
    "organization_suspend",
    "platform_ensure_public_tenant",
    "schema_name_for",
]
