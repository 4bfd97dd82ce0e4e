"""OpenAPI additions: the problem document, on every operation, for every error status."""

from __future__ import annotations

from typing import Any

from core.api.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details, with AURA's stable `code`.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "example": "urn:aura:error:invalid_request_error"},
        "title": {"type": "string", "example": "Invalid request"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "name: This field is required."},
        "code": {"type": "string", "example": "invalid_request"},
        "param": {"type": "string", "description": "The parameter at fault, when one is."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Field-level messages of a failed validation.",
        },
    },
}

ERROR_RESPONSES = {
    "400": "The request is malformed or a value is invalid.",
    "401": "No key, or a key that is not valid (unknown, revoked, expired).",
    "403": "The key lacks the scope, or its organization is suspended.",
    "404": "No such resource in the key's organization.",
    "429": "Over the rate limit of the key or of its organization; see Retry-After.",
    "default": "Any other error, in the same format.",
}


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                response: dict[str, Any] = {"description": description, "content": problem}
                if status == "429":
                    response["headers"] = {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before trying again.",
                        }
                    }
                responses.setdefault(status, response)
    return result
