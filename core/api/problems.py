"""One error format for every HTTP error AURA returns to an API client: RFC 9457 problem
details (`application/problem+json`) with AURA's stable `code` added.

    {"type": "urn:aura:error:invalid_request_error", "title": "Invalid request",
     "status": 400, "detail": "name must be 1-100 characters", "code": "invalid_request",
     "param": "name"}

`type` and `title` name the class of problem and never vary between occurrences; `detail` is
this occurrence; `code` is what a program should branch on.
"""

from __future__ import annotations

from typing import Any

from core.errors import AuraError

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The HTTP status of each AuraError.error_type.
STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "method_not_allowed_error": 405,
    "not_acceptable_error": 406,
    "conflict_error": 409,
    "unsupported_media_type_error": 415,
    "rate_limit_error": 429,
    "server_error": 500,
}

TITLES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "Authentication failed",
    "permission_error": "Permission denied",
    "not_found_error": "Not found",
    "method_not_allowed_error": "Method not allowed",
    "not_acceptable_error": "Not acceptable",
    "conflict_error": "Conflict",
    "unsupported_media_type_error": "Unsupported media type",
    "rate_limit_error": "Too many requests",
    "server_error": "Internal server error",
}


def status_for(error: AuraError) -> int:
    return STATUS_BY_TYPE.get(error.error_type, 500)


def problem_type(error_type: str) -> str:
    return f"urn:aura:error:{error_type}"


def problem_document(
    error: AuraError, *, status: int | None = None, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The problem body for an error; `errors` lists field-level messages of a validation."""
    document: dict[str, Any] = {
        "type": problem_type(error.error_type),
        "title": TITLES.get(error.error_type, "Error"),
        "status": status if status is not None else status_for(error),
        "detail": error.message,
        "code": error.code,
    }
    if error.param:
        document["param"] = error.param
    if errors:
        document["errors"] = errors
    return document
