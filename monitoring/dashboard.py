"""What the tenant admin's dashboard shows: daily charts and the month against the budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from django.utils.safestring import mark_safe

from monitoring.budget import BudgetStatus, budget_status
from monitoring.charts import Series, bar_chart, line_chart
from monitoring.selectors import (
    DailyActivity,
    daily_activity,
    usage_cost_since,
    usage_month_to_date_cost,
)
from tenants.models import Organization


def dashboard_context(*, organization: Organization, days: int = 30) -> dict[str, Any]:
    """Charts (inline SVG) of the last `days` days; call inside the organization's schema."""
    activity = daily_activity(days=days)
    labels = [day.day.strftime("%b %d") for day in activity]
    charts = [
        bar_chart(
            "Conversation minutes per day",
            labels,
            [round(day.minutes, 2) for day in activity],
            unit=" min",
        ),
        bar_chart(
            "Cost per day (USD)", labels, [float(day.cost_usd) for day in activity], unit="$"
        ),
        line_chart(
            "Voice to voice latency (ms)",
            labels,
            [
                Series("p50", [day.voice_to_voice_p50_ms for day in activity]),
                Series("p95", [day.voice_to_voice_p95_ms for day in activity]),
            ],
            unit=" ms",
        ),
        bar_chart(
            "Failed turns (% of turns)",
            labels,
            [round(day.error_rate * 100, 1) for day in activity],
            unit="%",
        ),
        line_chart(
            "Conversation success rate and satisfaction (%)",
            labels,
            [
                Series("success", [_percent(day.success_rate) for day in activity]),
                Series("thumbs up", [_percent(day.satisfaction) for day in activity]),
            ],
            unit="%",
        ),
        line_chart(
            "Audio quality (DNSMOS overall, 1-5)",
            labels,
            [
                Series("user speech", [_rounded(day.input_mos) for day in activity]),
                Series("spoken answers", [_rounded(day.output_mos) for day in activity]),
            ],
            unit="",
        ),
    ]
    budget = budget_status(organization)
    return {
        "charts": [mark_safe(chart) for chart in charts],
        "activity": list(reversed(activity)),
        "days": days,
        "budget": budget,
        "month_to_date_usd": usage_month_to_date_cost(),
    }


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True, slots=True)
class Today:
    """The tenant admin's landing page: today (UTC) at a glance, and the month's spend."""

    activity: DailyActivity
    # Exact, from the usage records; the rest of `activity` is from the rollups (5 minutes).
    spent_today_usd: Decimal
    month_to_date_usd: Decimal
    budget: BudgetStatus

    @property
    def success_percent(self) -> float | None:
        if not self.activity.turns:
            return None
        return round((1 - self.activity.error_rate) * 100, 1)


def dashboard_today(*, organization: Organization) -> Today:
    """Today's conversations, success rate, latency and spend; call inside its schema."""
    (activity,) = daily_activity(days=1)
    midnight = datetime.combine(activity.day, time.min, tzinfo=UTC)
    return Today(
        activity=activity,
        spent_today_usd=usage_cost_since(since=midnight),
        month_to_date_usd=usage_month_to_date_cost(),
        budget=budget_status(organization),
    )
