"""Errors of tenant resolution and key handling, with stable codes for clients."""

from voice.engine.errors import AuraError, InvalidRequestError


class AuthenticationError(AuraError):
    """The credentials do not identify an active organization (deliberately vague)."""

    code = "invalid_api_key"
    error_type = "authentication_error"


class PermissionDeniedError(AuraError):
    """The key is valid but may not do this (scope, origin)."""

    code = "permission_denied"
    error_type = "permission_error"


class OrganizationSuspendedError(AuraError):
    code = "organization_suspended"
    error_type = "permission_error"


class OrganizationExistsError(InvalidRequestError):
    code = "organization_exists"
