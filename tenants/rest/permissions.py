"""Scope checks: each view names the one scope its key must hold."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import get_public_schema_name
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.errors import PermissionDeniedError
from tenants.selectors import ResolvedKey

# The scope of platform endpoints; only keys of the platform organization (public schema) may
# hold it (tenants.services refuses it to any other organization).
STAFF_SCOPE = "staff"


def _key(request: Request) -> ResolvedKey:
    key = request.auth
    if not isinstance(key, ResolvedKey):
        raise NotAuthenticated()  # answered 401 with code missing_api_key
    return key


class OrganizationScope(BasePermission):
    """A key of an organization (not the platform's) holding the view's `required_scope`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = _key(request)
        if key.tenant.schema_name == get_public_schema_name():
            raise PermissionDeniedError(
                "This endpoint acts inside an organization: use one of its keys.",
                code="organization_key_required",
            )
        scope: str = view.required_scope
        if scope not in key.scopes:
            raise PermissionDeniedError(
                f"This key lacks the {scope!r} scope.", code="missing_scope"
            )
        return True


class PlatformStaff(BasePermission):
    """A key of the platform organization holding the `staff` scope."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = _key(request)
        if key.tenant.schema_name != get_public_schema_name() or STAFF_SCOPE not in key.scopes:
            raise PermissionDeniedError(
                "Platform endpoints need a platform key with the 'staff' scope.",
                code="missing_scope",
            )
        return True
