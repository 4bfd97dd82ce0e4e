"""Errors of tenant resolution and key handling, with stable codes for clients."""

from core.errors import AuraError, AuthenticationError, InvalidRequestError, PermissionDeniedError

__all__ = [
    "AuthenticationError",
    "OrganizationExistsError",
    "OrganizationSuspendedError",
    "PermissionDeniedError",
]


class OrganizationSuspendedError(AuraError):
    code = "organization_suspended"
    error_type = "permission_error"


class OrganizationExistsError(InvalidRequestError):
    code = "organization_exists"
