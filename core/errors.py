"""The one error hierarchy of AURA: its base and the generic errors every layer may raise.

Every error a user can see carries a stable `code`; the WebSocket transport turns it into an
`error` event and the REST API into a problem response. This module imports nothing, so the
framework-free voice engine and every Django app share it; errors of one area (providers,
audio, organizations) subclass these where they are raised.
"""

from __future__ import annotations


class AuraError(Exception):
    """Base of every error AURA reports to a client."""

    code = "server_error"
    error_type = "server_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class InvalidRequestError(AuraError):
    """The client sent something we cannot act on (bad event, bad value)."""

    code = "invalid_request"
    error_type = "invalid_request_error"


class AuthenticationError(AuraError):
    """The credentials do not identify an active organization (deliberately vague)."""

    code = "invalid_api_key"
    error_type = "authentication_error"


class PermissionDeniedError(AuraError):
    """The key is valid but may not do this (scope, origin)."""

    code = "permission_denied"
    error_type = "permission_error"


class NotFoundError(AuraError):
    """No such resource, or one the caller's organization may not see (the same answer)."""

    code = "not_found"
    error_type = "not_found_error"


class ConflictError(AuraError):
    code = "conflict"
    error_type = "conflict_error"


class RateLimitedError(AuraError):
    code = "rate_limit_exceeded"
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
