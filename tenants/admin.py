"""Admin of organizations and API keys; keys show their prefix, never a secret or its hash.

Organizations are the platform's (its site only); keys and their audit log are on both sites,
an organization seeing its own rows. An organization's users and groups live in its schema:
its site manages them (the platform's users are on the platform's site, registered by auth).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_site import (
    OrganizationRowsAdmin,
    ReadOnlyAdminMixin,
    on_tenant_site,
    tenant_admin_site,
)
from tenants.models import API_KEY_VISIBLE_FIELDS, ApiKey, ApiKeyEvent, Domain, Organization
from tenants.services import api_key_revoke


class DomainInline(admin.TabularInline[Domain, Organization]):
    model = Domain
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "plan", "status", "monthly_budget_usd", "created_at")
    list_filter = ("plan", "status")
    search_fields = ("name", "slug")
    readonly_fields = ("schema_name", "slug", "created_at")
    fields = (
        "name",
        "slug",
        "schema_name",
        "plan",
        "status",
        "monthly_budget_usd",
        "budget_warning_percent",
        "created_at",
    )
    inlines = (DomainInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A schema is provisioned by `organization_create`, not by saving a row.
        return False


class ApiKeyAdmin(OrganizationRowsAdmin[ApiKey]):
    list_display = (
        "prefix",
        "name",
        "kind",
        "scopes",
        "auto_rotate",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("kind", "auto_rotate")
    search_fields = ("prefix", "name")
    # The secret's hash never leaves the database, not even to staff.
    fields = API_KEY_VISIBLE_FIELDS
    readonly_fields = fields
    actions = ("revoke",)

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        if on_tenant_site(request):
            return self.list_display
        return ("organization", *self.list_display)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are issued by the REST API, which shows the secret exactly once.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = f"admin:{request.user.get_username()}"
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=actor)
        self.message_user(request, f"Revoked {queryset.count()} keys.", messages.SUCCESS)


class ApiKeyEventAdmin(ReadOnlyAdminMixin, OrganizationRowsAdmin[ApiKeyEvent]):
    list_display = ("created_at", "key_prefix", "action", "actor", "detail")
    list_filter = ("action",)
    search_fields = ("key_prefix", "actor")
    date_hierarchy = "created_at"


for site in (admin.site, tenant_admin_site):
    site.register(ApiKey, ApiKeyAdmin)
    site.register(ApiKeyEvent, ApiKeyEventAdmin)
tenant_admin_site.register(get_user_model(), UserAdmin)
tenant_admin_site.register(Group, GroupAdmin)
