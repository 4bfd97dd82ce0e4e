"""Writes of usage: records priced at turn boundaries, and the hourly and daily rollups.

The rows live in the organization's schema (`monitoring.models`, see
docs/api/usage-and-billing.md for why); callers run these inside that schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from conversations.models import (
    Conversation,
    Feedback,
    MosScore,
    SessionRefusal,
    TurnMetrics,
)
from monitoring.models import ActivityRollup, UsageRecord, UsageRollup
from monitoring.pricing import usage_cost
from monitoring.usage_choices import USAGE_AMOUNTS

PERIOD_LENGTH: dict[str, timedelta] = {
    UsageRollup.Period.HOUR: timedelta(hours=1),
    UsageRollup.Period.DAY: timedelta(days=1),
}


@transaction.atomic
def usage_record(
    *,
    records: Iterable[Mapping[str, object]],
    conversation_id: str | None,
    session_id: str = "",
    response_id: str = "",
) -> list[UsageRecord]:
    """Persist the usage the engine measured (its `UsageRecord.as_dict()`s), priced now."""
    rows = [
        UsageRecord(
            conversation_id=conversation_id,
            session_id=session_id,
            response_id=response_id,
            stage=str(record["stage"]),
            provider=str(record["provider"])[:50],
            model=str(record.get("model") or "")[:150],
            outcome=str(record.get("outcome") or UsageRecord.Outcome.ANSWERED),
            requests=int(record.get("requests", 0) or 0),  # type: ignore[call-overload]
            prompt_tokens=int(record.get("prompt_tokens", 0) or 0),  # type: ignore[call-overload]
            completion_tokens=int(record.get("completion_tokens", 0) or 0),  # type: ignore[call-overload]
            estimated_tokens=int(record.get("estimated_tokens", 0) or 0),  # type: ignore[call-overload]
            stt_seconds=float(record.get("stt_seconds", 0) or 0),  # type: ignore[arg-type]
            tts_characters=int(record.get("tts_characters", 0) or 0),  # type: ignore[call-overload]
            audio_seconds=float(record.get("audio_seconds", 0) or 0),  # type: ignore[arg-type]
            cost_usd=usage_cost(record),
        )
        for record in records
    ]
    return UsageRecord.objects.bulk_create(rows)


def period_start_of(period: str, at: datetime) -> datetime:
    at = at.astimezone(UTC)
    start = at.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if period == UsageRollup.Period.DAY else start


@transaction.atomic
def usage_roll_up(*, period: str, period_start: datetime) -> ActivityRollup:
    """(Re)compute one period's rollups from the raw rows; running it again changes nothing."""
    if period not in PERIOD_LENGTH:
        raise ValueError(f"unknown period {period!r}")
    start = period_start_of(period, period_start)
    end = start + PERIOD_LENGTH[period]
    records = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
    groups = records.values("stage", "provider", "model", "outcome").annotate(
        **{name: Sum(name) for name in USAGE_AMOUNTS}
    )
    now = timezone.now()
    UsageRollup.objects.filter(period=period, period_start=start).delete()
    UsageRollup.objects.bulk_create(
        UsageRollup(period=period, period_start=start, computed_at=now, **group) for group in groups
    )
    totals = records.aggregate(
        prompt_tokens=Sum("prompt_tokens", filter=Q(stage="llm"), default=0),
        completion_tokens=Sum("completion_tokens", filter=Q(stage="llm"), default=0),
        audio_in_seconds=Sum("audio_seconds", filter=Q(stage="audio_in"), default=0.0),
        audio_out_seconds=Sum("audio_seconds", filter=Q(stage="audio_out"), default=0.0),
        cost_usd=Sum("cost_usd", default=Decimal(0)),
    )
    period_turns = TurnMetrics.objects.filter(created_at__gte=start, created_at__lt=end)
    turns = period_turns.aggregate(
        turns=Count("id"),
        failed_turns=Count("id", filter=Q(status="failed")),
        input_level_dbfs_avg=Avg("input_level_dbfs"),
        clipping_ratio_avg=Avg("clipping_ratio"),
        snr_db_avg=Avg("snr_db"),
    )
    p50, p95 = _voice_to_voice_percentiles(start, end)
    activity, _ = ActivityRollup.objects.update_or_create(
        period=period,
        period_start=start,
        defaults={
            **totals,
            **turns,
            "conversations": Conversation.objects.filter(
                started_at__gte=start, started_at__lt=end
            ).count(),
            "voice_to_voice_p50_ms": p50,
            "voice_to_voice_p95_ms": p95,
            **_outcomes(start, end),
            **_satisfaction(start, end),
            **_mos(start, end),
            "computed_at": now,
        },
    )
    return activity


SUCCESSFUL_OUTCOMES = (Conversation.Outcome.COMPLETED, Conversation.Outcome.ENDED_BY_AGENT)


def _outcomes(start: datetime, end: datetime) -> dict[str, int]:
    """Outcomes of the conversations started in the period, and the sessions refused in it
    (the success rate's terms: docs/api/usage-and-billing.md#conversation-success-rate)."""
    outcome = Conversation.Outcome
    counts = (
        Conversation.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(outcome="")
        .aggregate(
            conversations_ended=Count("id"),
            conversations_succeeded=Count("id", filter=Q(outcome__in=SUCCESSFUL_OUTCOMES)),
            conversations_failed=Count(
                "id", filter=Q(outcome__in=(outcome.FAILED, outcome.REFUSED))
            ),
            conversations_abandoned=Count("id", filter=Q(outcome=outcome.ABANDONED)),
            playback_underruns=Sum("playback_underruns", default=0),
        )
    )
    counts["sessions_refused"] = SessionRefusal.objects.filter(
        hour__gte=start, hour__lt=end
    ).aggregate(refused=Sum("count", default=0))["refused"]
    return counts


def _satisfaction(start: datetime, end: datetime) -> dict[str, int]:
    return Feedback.objects.filter(updated_at__gte=start, updated_at__lt=end).aggregate(
        feedback_up=Count("id", filter=Q(rating=Feedback.Rating.UP)),
        feedback_down=Count("id", filter=Q(rating=Feedback.Rating.DOWN)),
    )


def _mos(start: datetime, end: datetime) -> dict[str, float | None]:
    scores = MosScore.objects.filter(created_at__gte=start, created_at__lt=end)
    return scores.aggregate(
        input_mos_ovrl_avg=Avg("ovrl", filter=Q(direction=MosScore.Direction.INPUT)),
        output_mos_ovrl_avg=Avg("ovrl", filter=Q(direction=MosScore.Direction.OUTPUT)),
    )


def _voice_to_voice_percentiles(
    start: datetime, end: datetime
) -> tuple[float | None, float | None]:
    table = TurnMetrics._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY voice_to_voice_ms), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY voice_to_voice_ms) "
            f"FROM {connection.ops.quote_name(table)} "
            "WHERE created_at >= %s AND created_at < %s AND voice_to_voice_ms IS NOT NULL",
            [start, end],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    return row[0], row[1]


def usage_roll_up_recent(*, now: datetime | None = None) -> list[ActivityRollup]:
    """The periods a beat run refreshes: this hour and the last, today (and yesterday, just
    after midnight, so the day's last records are counted)."""
    now = now or timezone.now()
    periods = [
        (UsageRollup.Period.HOUR, now - timedelta(hours=1)),
        (UsageRollup.Period.HOUR, now),
        (UsageRollup.Period.DAY, now),
    ]
    if now.astimezone(UTC).hour == 0:
        periods.insert(2, (UsageRollup.Period.DAY, now - timedelta(days=1)))
    return [usage_roll_up(period=period, period_start=at) for period, at in periods]
