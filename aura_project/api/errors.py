"""AuraErrors that only the REST API raises."""

from __future__ import annotations

from voice.engine.errors import AuraError


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
