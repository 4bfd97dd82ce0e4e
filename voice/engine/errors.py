"""The one error hierarchy of AURA.

Every error a user can see carries a stable `code`; the WebSocket transport turns it into an
`error` event and the REST API into a problem response. Lives in the engine because the engine
may not import Django, while the Django side may import the engine.
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


class AudioFormatError(InvalidRequestError):
    """Audio bytes or an audio format we cannot accept."""

    code = "invalid_audio"


class ProviderError(AuraError):
    """A model provider failed; `retryable` tells the router whether another try may help."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool = True,
        status_code: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, code=code)
        self.provider = provider
        self.retryable = retryable
        self.status_code = status_code


class ProviderUnavailableError(ProviderError):
    """A provider cannot be used at all (missing key, package missing, breaker open)."""

    code = "provider_unavailable"


class AllRoutesFailedError(AuraError):
    """Every route the router was given failed or was skipped."""

    code = "all_routes_failed"


class ToolError(AuraError):
    """A tool call failed (unknown tool, bad arguments, timeout, webhook error)."""

    code = "tool_error"
