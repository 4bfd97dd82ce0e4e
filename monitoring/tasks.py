"""Usage rollups: per organization, from the raw usage rows of its schema."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import numpy as np
from celery import shared_task
from django.utils import timezone

from conversations.services import mos_record
from monitoring import mos
from monitoring.metrics import AUDIO_MOS
from monitoring.models import UsageRecord
from monitoring.services import usage_roll_up, usage_roll_up_recent
from tenants.sweeps import batches, for_each_schema, schemas_having, window_start
from tenants.tasking import TenantTask
from voice.engine.audio.resample import resample


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


@shared_task(base=TenantTask, name="monitoring.score_audio_mos", ignore_result=True)
def score_audio_mos(
    schema_name: str,
    conversation_id: str,
    item_id: str,
    direction: str,
    audio_base64: str,
    rate_hz: int,
) -> float | None:
    """DNSMOS of one sampled stretch of audio, which came inside this task's message and is
    dropped when it returns: only the scores are stored. Returns the overall score."""
    audio = np.frombuffer(base64.b64decode(audio_base64), dtype=np.int16)
    audio_16k = (
        resample(audio, rate_hz, mos.SAMPLE_RATE_HZ) if rate_hz != mos.SAMPLE_RATE_HZ else audio
    )
    score = mos.dnsmos(audio_16k)
    if score is None:
        return None
    mos_record(
        conversation_id=conversation_id,
        item_id=item_id,
        direction=direction,
        sig=score.sig,
        bak=score.bak,
        ovrl=score.ovrl,
        audio_s=round(len(audio_16k) / mos.SAMPLE_RATE_HZ, 2),
    )
    for dimension in ("sig", "bak", "ovrl"):
        AUDIO_MOS.labels(direction=direction, dimension=dimension).observe(
            getattr(score, dimension)
        )
    return score.ovrl
