"""Admin of an organization's agents and webhook tools (on its own domain only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.admin_site import tenant_admin_site
from voice.models import Agent, WebhookTool


@admin.register(Agent, site=tenant_admin_site)
class AgentAdmin(admin.ModelAdmin[Agent]):
    list_display = ("name", "is_default", "voice", "language", "memory_enabled", "updated_at")
    search_fields = ("name",)


@admin.register(WebhookTool, site=tenant_admin_site)
class WebhookToolAdmin(admin.ModelAdmin[WebhookTool]):
    list_display = ("name", "url", "timeout_s", "enabled", "created_at")
    search_fields = ("name", "url")
    # The signing secret is stored encrypted and never shown; tools are created through the
    # REST API, which sets it.
    exclude = ("signing_secret_encrypted",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
