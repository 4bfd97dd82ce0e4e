"""Usage rollups: per organization, from the raw usage rows of its schema."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from monitoring.services import usage_roll_up, usage_roll_up_recent
from tenants.tasking import TenantTask, tenant_schema_names


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


@shared_task(name="monitoring.roll_up_usage_everywhere")
def roll_up_usage_everywhere() -> int:
    """Beat entry point: one task per organization, so one large tenant delays no other."""
    schemas = tenant_schema_names()
    for schema_name in schemas:
        roll_up_recent_usage.delay(schema_name)
    return len(schemas)
