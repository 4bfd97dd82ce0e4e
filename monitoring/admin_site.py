"""Which admin pages a site shows: the platform's (public schema) or an organization's own.

One `admin.site` serves both URL confs. Models in the organizations' schemas exist only on an
organization's domain; platform models only on the platform's. Rows of shared tables that
belong to one organization (its API keys, their audit log) are filtered to that organization
on its domain, so staff of one tenant never see another's.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name


def request_organization_id(request: HttpRequest) -> int | None:
    """The organization whose domain served the request; None on the platform's domains."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return int(tenant.pk)


def on_tenant_site(request: HttpRequest) -> bool:
    return request_organization_id(request) is not None


class _SiteScopedAdmin(admin.ModelAdmin):
    # True: shown on organizations' domains only; False: on the platform's domains only.
    tenant_site_only: bool

    def _shown(self, request: HttpRequest) -> bool:
        return on_tenant_site(request) == self.tenant_site_only

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._shown(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._shown(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._shown(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._shown(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._shown(request) and super().has_delete_permission(request, obj)


class TenantSchemaAdmin(_SiteScopedAdmin):
    """A model of the organizations' schemas: shown on an organization's domain only."""

    tenant_site_only = True


class PlatformAdmin(_SiteScopedAdmin):
    """A platform model: shown on the platform's domains only."""

    tenant_site_only = False


class OrganizationRowsAdmin(admin.ModelAdmin):
    """Rows of a shared table with an `organization` column: an organization sees its own."""

    organization_field = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        queryset = super().get_queryset(request)
        organization_id = request_organization_id(request)
        if organization_id is None:
            return queryset
        return queryset.filter(**{f"{self.organization_field}_id": organization_id})


class ReadOnlyAdminMixin:
    """Facts (usage, audit logs) are recorded by services, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
