"""REST endpoints of usage and costs (the key's organization's schema): raw records, hourly and
daily rollups, activity, and the month against the budget."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.filters import UtcDateTimeFilter
from monitoring.budget import BudgetStatus
from monitoring.models import ActivityRollup, UsageRecord, UsageRollup
from monitoring.selectors import month_start, usage_month_to_date_cost
from monitoring.usage_choices import USAGE_AMOUNTS
from tenants.rest.views import OrganizationViewSet
from tenants.selectors import organization_by_schema

USAGE_FIELDS = ["stage", "provider", "model", "outcome", *USAGE_AMOUNTS]


class UsageRecordSerializer(serializers.ModelSerializer[UsageRecord]):
    class Meta:
        model = UsageRecord
        fields = ["id", "conversation", "session_id", "response_id", "created_at", *USAGE_FIELDS]
        read_only_fields = fields


class UsageRollupSerializer(serializers.ModelSerializer[UsageRollup]):
    class Meta:
        model = UsageRollup
        fields = ["period", "period_start", *USAGE_FIELDS, "computed_at"]
        read_only_fields = fields


class ActivityRollupSerializer(serializers.ModelSerializer[ActivityRollup]):
    minutes = serializers.FloatField(read_only=True)
    error_rate = serializers.FloatField(read_only=True)
    success_rate = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Conversations completed or ended by the agent, of those that ended or were "
        "refused (null: none did).",
    )
    satisfaction = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Share of ratings that were thumbs up."
    )

    class Meta:
        model = ActivityRollup
        fields = [
            "period",
            "period_start",
            "conversations",
            "turns",
            "failed_turns",
            "error_rate",
            "minutes",
            "audio_in_seconds",
            "audio_out_seconds",
            "voice_to_voice_p50_ms",
            "voice_to_voice_p95_ms",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "success_rate",
            "conversations_ended",
            "conversations_succeeded",
            "conversations_failed",
            "conversations_abandoned",
            "sessions_refused",
            "satisfaction",
            "feedback_up",
            "feedback_down",
            "input_level_dbfs_avg",
            "clipping_ratio_avg",
            "snr_db_avg",
            "input_mos_ovrl_avg",
            "output_mos_ovrl_avg",
            "playback_underruns",
            "computed_at",
        ]
        read_only_fields = fields


class UsageSummarySerializer(serializers.Serializer[dict[str, Any]]):
    month_start = serializers.DateTimeField()
    spent_usd = serializers.DecimalField(max_digits=16, decimal_places=6)
    budget_usd = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    warning_percent = serializers.IntegerField()
    used_percent = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["unlimited", "ok", "warning", "exceeded"],
        help_text="`exceeded`: new sessions are refused until the budget is raised.",
    )


class _UsageFilter(django_filters.FilterSet):
    stage = django_filters.ChoiceFilter(choices=UsageRecord.Stage.choices)
    outcome = django_filters.ChoiceFilter(choices=UsageRecord.Outcome.choices)
    provider = django_filters.CharFilter(max_length=50)
    model = django_filters.CharFilter(max_length=150)


class UsageRecordFilter(_UsageFilter):
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    session_id = django_filters.CharFilter(max_length=64)
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = UsageRecord
        fields = ["stage", "outcome", "provider", "model", "session_id"]


class UsageRollupFilter(_UsageFilter):
    period = django_filters.ChoiceFilter(choices=UsageRollup.Period.choices)
    start_after = UtcDateTimeFilter(field_name="period_start", lookup_expr="gte")
    start_before = UtcDateTimeFilter(field_name="period_start", lookup_expr="lt")

    class Meta:
        model = UsageRollup
        fields = ["period", "stage", "outcome", "provider", "model"]


class ActivityRollupFilter(django_filters.FilterSet):
    period = django_filters.ChoiceFilter(choices=UsageRollup.Period.choices)
    start_after = UtcDateTimeFilter(field_name="period_start", lookup_expr="gte")
    start_before = UtcDateTimeFilter(field_name="period_start", lookup_expr="lt")

    class Meta:
        model = ActivityRollup
        fields = ["period"]


@extend_schema(tags=["usage"])
class UsageRecordViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """What each turn consumed, per stage, provider and model, priced when it was recorded."""

    required_scope = "usage"
    serializer_class = UsageRecordSerializer
    filterset_class = UsageRecordFilter
    ordering_fields = ["created_at", "cost_usd"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[UsageRecord]:
        return UsageRecord.objects.all()


@extend_schema(tags=["usage"])
class UsageRollupViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Usage summed per hour or day (recomputed by Celery every few minutes)."""

    required_scope = "usage"
    serializer_class = UsageRollupSerializer
    filterset_class = UsageRollupFilter
    ordering_fields = ["period_start", "cost_usd"]
    ordering = ["-period_start", "stage", "provider", "model", "outcome"]

    def get_queryset(self) -> QuerySet[UsageRollup]:
        return UsageRollup.objects.all()


@extend_schema(tags=["usage"])
class ActivityRollupViewSet(mixins.ListModelMixin, OrganizationViewSet):
    """Each hour or day at a glance: conversations, turns, errors, minutes, latency, cost."""

    required_scope = "usage"
    serializer_class = ActivityRollupSerializer
    filterset_class = ActivityRollupFilter
    ordering_fields = ["period_start"]
    ordering = ["-period_start"]

    def get_queryset(self) -> QuerySet[ActivityRollup]:
        return ActivityRollup.objects.all()


@extend_schema(tags=["usage"])
class UsageSummaryViewSet(OrganizationViewSet):
    """This month's spending against the organization's budget (from the raw records)."""

    required_scope = "usage"
    serializer_class = UsageSummarySerializer
    queryset = UsageRecord.objects.none()  # one computed object: no rows, no filters
    filter_backends: list[Any] = []

    @extend_schema(responses={200: UsageSummarySerializer})
    def retrieve(self, request: Request) -> Response:
        organization = organization_by_schema(self.api_key.tenant.schema_name)
        now = timezone.now()
        # Spending is shown with or without a budget (budget_status reads it only with one).
        budget = BudgetStatus(
            budget_usd=organization.monthly_budget_usd,
            spent_usd=usage_month_to_date_cost(now=now),
            warning_percent=organization.budget_warning_percent,
        )
        summary = {
            "month_start": month_start(now),
            "spent_usd": budget.spent_usd,
            "budget_usd": budget.budget_usd,
            "warning_percent": budget.warning_percent,
            "used_percent": budget.used_percent,
            "status": budget.state,
        }
        return Response(UsageSummarySerializer(summary).data)
