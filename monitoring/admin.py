"""An organization's admin on its own domain: its usage, and the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.admin_site import ReadOnlyAdminMixin, tenant_admin_site
from monitoring.dashboard import dashboard_context
from monitoring.models import ActivityRollup, UsageRecord, UsageRollup
from monitoring.usage_choices import USAGE_AMOUNTS


@admin.register(UsageRecord, site=tenant_admin_site)
class UsageRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UsageRecord]):
    list_display = ("created_at", "stage", "provider", "model", "outcome", *USAGE_AMOUNTS)
    list_filter = ("stage", "provider", "outcome")
    date_hierarchy = "created_at"


@admin.register(UsageRollup, site=tenant_admin_site)
class UsageRollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[UsageRollup]):
    list_display = (
        "period_start",
        "period",
        "stage",
        "provider",
        "model",
        "outcome",
        "requests",
        "prompt_tokens",
        "completion_tokens",
        "stt_seconds",
        "tts_characters",
        "cost_usd",
    )
    list_filter = ("period", "stage", "provider")


@admin.register(ActivityRollup, site=tenant_admin_site)
class ActivityDashboardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ActivityRollup]):
    """The changelist of the daily rollups is the organization's dashboard."""

    change_list_template = "admin/monitoring/dashboard.html"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)
        tenant = getattr(request, "tenant")  # noqa: B009 - set by the tenant middleware
        context = {
            **self.admin_site.each_context(request),
            **dashboard_context(organization=tenant, days=_days(request)),
            "opts": self.model._meta,
            "title": "Dashboard",
        }
        return TemplateResponse(request, self.change_list_template, context)


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    return min(max(days, 7), 90)
