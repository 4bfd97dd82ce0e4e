"""DRF's exception handler for AURA: every error becomes one problem document."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.api.problems import PROBLEM_CONTENT_TYPE, problem_document, status_for
from core.errors import (
    AuraError,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)

logger = logging.getLogger(__name__)

MISSING_KEY_MESSAGE = "Send your secret key as 'Authorization: Bearer sk_…'."


def _field_errors(detail: Any) -> Any:
    """DRF's nested ErrorDetail structure as plain JSON (field -> messages)."""
    if isinstance(detail, dict):
        return {str(field): _field_errors(value) for field, value in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(value) for value in detail]
    return str(detail)


def _first_error(detail: Any, path: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """The first message of a validation error, and the dotted name of its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            return _first_error(value, (*path, str(field)))
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return _first_error(value, (*path, str(index)))
            return _first_error(value, path)
    fields = [part for part in path if part != "non_field_errors"]
    param = ".".join(fields) or None
    message = str(detail)
    return (f"{param}: {message}" if param else message), param


def _as_aura_error(exc: Exception) -> tuple[AuraError, dict[str, Any] | None]:
    if isinstance(exc, AuraError):
        return exc, None
    if isinstance(exc, Http404 | exceptions.NotFound):
        return NotFoundError("No such resource."), None
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDeniedError("You may not do this."), None
    if isinstance(exc, exceptions.ValidationError):
        message, param = _first_error(exc.detail)
        errors = _field_errors(exc.detail)
        return InvalidRequestError(message, param=param), (
            errors if isinstance(errors, dict) else {"non_field_errors": errors}
        )
    if isinstance(exc, exceptions.Throttled):
        seconds = getattr(exc, "wait", None)
        wait = math.ceil(seconds) if seconds is not None else 60
        return RateLimitedError(
            f"Too many requests; try again in {wait} s.", retry_after_s=max(1, wait)
        ), None
    if isinstance(exc, exceptions.NotAuthenticated):
        return AuthenticationError(MISSING_KEY_MESSAGE, code="missing_api_key"), None
    if isinstance(exc, exceptions.AuthenticationFailed):
        return AuthenticationError(str(exc.detail)), None
    if isinstance(exc, exceptions.PermissionDenied):
        return PermissionDeniedError(str(exc.detail)), None
    if isinstance(exc, exceptions.ParseError):
        return InvalidRequestError(str(exc.detail), code="invalid_json"), None
    if isinstance(exc, exceptions.APIException):
        error = AuraError(str(exc.detail), code=str(exc.default_code))
        error.error_type = {
            405: "method_not_allowed_error",
            406: "not_acceptable_error",
            415: "unsupported_media_type_error",
        }.get(exc.status_code, "invalid_request_error")
        return error, None
    logger.error("unhandled error in an API view", exc_info=exc)
    return AuraError("Something went wrong on our side; it has been logged."), None


def problem_response(error: AuraError, *, errors: dict[str, Any] | None = None) -> Response:
    status = status_for(error)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="aura"'
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after_s)
    return Response(
        problem_document(error, status=status, errors=errors),
        status=status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: never None, so no error escapes as HTML."""
    error, errors = _as_aura_error(exc)
    # A failed write must not leave the request's transaction half done.
    set_rollback()
    return problem_response(error, errors=errors)
