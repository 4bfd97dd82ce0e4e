"""The engine's errors: audio, providers, routing, tools.

They subclass the one hierarchy of `core.errors` (framework-free, shared with the Django apps),
which this module re-exports so engine code names every error from one place.
"""

from __future__ import annotations

from core.errors import AuraError, InvalidRequestError

__all__ = [
    "AllRoutesFailedError",
    "AudioFormatError",
    "AuraError",
    "InvalidRequestError",
    "ProviderError",
    "ProviderUnavailableError",
    "ToolError",
]


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
