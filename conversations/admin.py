"""An organization's admin on its own domain: its conversations, their transcripts and turns.

Usage and the dashboard are monitoring's (monitoring/admin.py)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from conversations.models import Conversation, Feedback, Message, MosScore, TurnMetrics
from core.admin_site import ReadOnlyAdminMixin, tenant_admin_site


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
