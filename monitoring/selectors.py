"""Reads of usage and activity; callers run them inside the organization's schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from monitoring.models import ActivityRollup, UsageRecord, UsageRollup


def month_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_cost_since(*, since: datetime) -> Decimal:
    """Money spent since `since`, from the raw records (exact, whatever the rollups say)."""
    total = UsageRecord.objects.filter(created_at__gte=since).aggregate(
        total=Sum("cost_usd", default=Decimal(0))
    )["total"]
    return Decimal(total)


def usage_month_to_date_cost(*, now: datetime | None = None) -> Decimal:
    return usage_cost_since(since=month_start(now or timezone.now()))


def usage_records(
    *, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[UsageRecord]:
    records = UsageRecord.objects.all()
    if since is not None:
        records = records.filter(created_at__gte=since)
    if until is not None:
        records = records.filter(created_at__lt=until)
    return records


def usage_rollups(
    *, period: str, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[UsageRollup]:
    rollups = UsageRollup.objects.filter(period=period)
    if since is not None:
        rollups = rollups.filter(period_start__gte=since)
    if until is not None:
        rollups = rollups.filter(period_start__lt=until)
    return rollups


def activity_rollups(
    *, period: str, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[ActivityRollup]:
    rollups = ActivityRollup.objects.filter(period=period)
    if since is not None:
        rollups = rollups.filter(period_start__gte=since)
    if until is not None:
        rollups = rollups.filter(period_start__lt=until)
    return rollups.order_by("period_start")


@dataclass(frozen=True, slots=True)
class DailyActivity:
    """One day of the dashboard; days without a rollup are zero."""

    day: date
    minutes: float
    cost_usd: Decimal
    turns: int
    error_rate: float
    voice_to_voice_p50_ms: float | None
    voice_to_voice_p95_ms: float | None
    conversations: int = 0
    success_rate: float | None = None
    satisfaction: float | None = None
    ratings: int = 0
    input_mos: float | None = None
    output_mos: float | None = None
    clipping_ratio: float | None = None
    snr_db: float | None = None
    playback_underruns: int = 0


def daily_activity(*, days: int = 30, today: date | None = None) -> list[DailyActivity]:
    """The last `days` days, oldest first, from the daily rollups."""
    today = today or timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    by_day = {
        rollup.period_start.astimezone(UTC).date(): rollup
        for rollup in activity_rollups(period=UsageRollup.Period.DAY, since=since)
    }
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        rollup = by_day.get(day)
        if rollup is None:
            result.append(DailyActivity(day, 0.0, Decimal(0), 0, 0.0, None, None))
            continue
        result.append(
            DailyActivity(
                day=day,
                minutes=rollup.minutes,
                cost_usd=rollup.cost_usd,
                turns=rollup.turns,
                error_rate=rollup.error_rate,
                voice_to_voice_p50_ms=rollup.voice_to_voice_p50_ms,
                voice_to_voice_p95_ms=rollup.voice_to_voice_p95_ms,
                conversations=rollup.conversations,
                success_rate=rollup.success_rate,
                satisfaction=rollup.satisfaction,
                ratings=rollup.feedback_up + rollup.feedback_down,
                input_mos=rollup.input_mos_ovrl_avg,
                output_mos=rollup.output_mos_ovrl_avg,
                clipping_ratio=rollup.clipping_ratio_avg,
                snr_db=rollup.snr_db_avg,
                playback_underruns=rollup.playback_underruns,
            )
        )
    return result
