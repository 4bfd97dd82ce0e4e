"""An organization's admin on its own domain: transcripts, usage, and the dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from conversations.models import (
    ActivityRollup,
    Conversation,
    Feedback,
    Message,
    MosScore,
    TurnMetrics,
    UsageRecord,
    UsageRollup,
)
from conversations.usage_choices import USAGE_AMOUNTS
from core.admin_site import ReadOnlyAdminMixin, tenant_admin_site
from monitoring.dashboard import dashboard_context


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline[Message, Conversation]):
    model = Message
    fields = ("position", "role", "text", "truncated", "created_at")
    readonly_fields = fields
    extra = 0


class TurnMetricsInline(ReadOnlyAdminMixin, admin.TabularInline[TurnMetrics, Conversation]):
    model = TurnMetrics
    fields = (
        "created_at",
        "status",
        "route",
        "voice_to_voice_ms",
        "stt_ms",
        "llm_first_token_ms",
        "prompt_tokens",
        "completion_tokens",
        "failed_stage",
        "error_code",
        "input_level_dbfs",
        "clipping_ratio",
        "snr_db",
        "arrival_jitter_ms",
        "arrival_gaps",
    )
    readonly_fields = fields
    extra = 0


class FeedbackInline(ReadOnlyAdminMixin, admin.TabularInline[Feedback, Conversation]):
    model = Feedback
    fields = ("created_at", "item_id", "rating", "comment", "source")
    readonly_fields = fields
    extra = 0


class MosScoreInline(ReadOnlyAdminMixin, admin.TabularInline[MosScore, Conversation]):
    model = MosScore
    verbose_name_plural = "audio quality (DNSMOS P.835, sampled)"
    fields = ("created_at", "direction", "item_id", "sig", "bak", "ovrl", "audio_s")
    readonly_fields = fields
    extra = 0


@admin.register(Conversation, site=tenant_admin_site)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ("started_at", "agent", "end_user_id", "status", "outcome", "message_count")
    list_filter = ("status", "outcome", "agent")
    search_fields = ("end_user_id", "messages__text")
    date_hierarchy = "started_at"
    readonly_fields = (
        "id",
        "agent",
        "session_id",
        "end_user_id",
        "status",
        "started_at",
        "ended_at",
        "outcome",
        "outcome_reason",
        "playback_underruns",
        "late_audio_ms",
        "summary",
        "transcript",
    )
    fields = readonly_fields
    inlines = (TurnMetricsInline, FeedbackInline, MosScoreInline, MessageInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).select_related("agent")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="messages")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.messages.count()

    @admin.display(description="transcript")
    def transcript(self, conversation: Conversation) -> SafeString:
        """The conversation as people read it: who said what, cut-offs marked."""
        rows = format_html_join(
            "",
            '<p style="margin:0 0 .5em"><strong>{}</strong> {}{}</p>',
            (
                (
                    message.get_role_display(),
                    message.text or "(no text)",
                    " [interrupted]" if message.truncated else "",
                )
                for message in conversation.messages.exclude(role=Message.Role.TOOL)
            ),
        )
        return format_html('<div style="max-width:60em">{}</div>', rows) if rows else mark_safe("")


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
