"""Usage rollups: per organization, from the raw usage rows of its schema."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from conversations.models import UsageRecord
from monitoring.services import usage_roll_up, usage_roll_up_recent
from tenants.sweeps import batches, for_each_schema, schemas_having, window_start
from tenants.tasking import TenantTask


@shared_task(base=TenantTask, name="monitoring.roll_up_usage")
def roll_up_usage(schema_name: str, period: str, period_start: str) -> dict[str, object]:
    """Recompute one hour or day (`period_start` in ISO 8601) of one organization."""
    activity = usage_roll_up(period=period, period_start=datetime.fromisoformat(period_start))
    return {
        "period": activity.period,
        "period_start": activity.period_start.isoformat(),
        "turns": activity.turns,
        "cost_usd": str(activity.cost_usd),
    }


@shared_task(base=TenantTask, name="monitoring.roll_up_recent_usage")
def roll_up_recent_usage(schema_name: str) -> int:
    """Refresh this and the last hour, and today, of one organization."""
    return len(usage_roll_up_recent())


@shared_task(name="monitoring.roll_up_recent_usage_batch")
def roll_up_recent_usage_batch(schema_names: list[str]) -> int:
    """Refresh the recent periods of each of these organizations, one after another."""
    return for_each_schema(schema_names, usage_roll_up_recent)


@shared_task(name="monitoring.roll_up_usage_everywhere")
def roll_up_usage_everywhere() -> int:
    """Beat entry point: organizations with usage since the last run, in batches (an idle
    organization's rollups have nothing new to count). Returns how many were queued."""
    since = window_start("roll-up-usage", now=timezone.now(), first_window=timedelta(hours=2))
    schemas = schemas_having(UsageRecord, "created_at >= %s", [since])
    for batch in batches(schemas):
        roll_up_recent_usage_batch.delay(batch)
    return len(schemas)
