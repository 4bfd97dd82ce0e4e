"""Usage rollups computed by a real Celery worker from real rows in the tenants' schemas."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django_tenants.utils import schema_context

from conversations.models import Conversation, TurnMetrics
from monitoring.models import ActivityRollup, UsageRecord, UsageRollup
from monitoring.services import usage_record, usage_roll_up
from monitoring.tasks import roll_up_usage, roll_up_usage_everywhere

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

T = TypeVar("T")
# A day of its own, far from the rows other tests write "now".
DAY = datetime(2021, 3, 14, tzinfo=UTC)
GPT_4O_MINI = {"stage": "llm", "provider": "openai", "model": "gpt-4o-mini"}


def wait_for(read: Callable[[], T | None], *, timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = read()
        if value is not None:
            return value
        time.sleep(0.2)
    raise TimeoutError("the worker did not write the rollup in time")


def _clean(schema_name: str) -> None:
    with schema_context(schema_name):
        window = {"created_at__gte": DAY, "created_at__lt": DAY + timedelta(days=1)}
        UsageRecord.objects.filter(**window).delete()
        Conversation.objects.filter(
            started_at__gte=DAY, started_at__lt=DAY + timedelta(days=1)
        ).delete()
        for model in (UsageRollup, ActivityRollup):
            model.objects.filter(
                period_start__gte=DAY, period_start__lt=DAY + timedelta(days=1)
            ).delete()


@pytest.fixture
def a_day_of_usage(org_alpha: Any, org_beta: Any) -> Iterator[dict[str, Any]]:
    """Three turns in alpha's schema at 10:xx, one in beta's: what each rollup must find."""
    for organization in (org_alpha, org_beta):
        _clean(organization.schema_name)
    at = DAY.replace(hour=10, minute=15)
    with schema_context(org_alpha.schema_name):
        conversation = Conversation.objects.create(started_at=at)
        for index, (v2v_ms, status) in enumerate(
            [(400.0, "completed"), (600.0, "completed"), (800.0, "completed"), (None, "failed")]
        ):
            TurnMetrics.objects.create(
                conversation=conversation,
                created_at=at + timedelta(minutes=index),
                voice_to_voice_ms=v2v_ms,
                status=status,
            )
        records = usage_record(
            conversation_id=str(conversation.pk),
            session_id="sess_test",
            response_id="resp_1",
            records=[
                {
                    **GPT_4O_MINI,
                    "outcome": "answered",
                    "requests": 1,
                    "prompt_tokens": 1000,
                    "completion_tokens": 500,
                },
                {
                    **GPT_4O_MINI,
                    "outcome": "cancelled",
                    "requests": 1,
                    "prompt_tokens": 200,
                    "completion_tokens": 0,
                    "estimated_tokens": 200,
                },
                {"stage": "stt", "provider": "openai", "model": "whisper-1", "stt_seconds": 30.0},
                {"stage": "audio_in", "provider": "aura", "model": "", "audio_seconds": 120.0},
            ],
        )
        UsageRecord.objects.filter(pk__in=[r.pk for r in records]).update(created_at=at)
    with schema_context(org_beta.schema_name):
        beta = Conversation.objects.create(started_at=at)
        TurnMetrics.objects.create(conversation=beta, created_at=at, voice_to_voice_ms=2000.0)
        (record,) = usage_record(
            conversation_id=str(beta.pk),
            records=[{**GPT_4O_MINI, "prompt_tokens": 10_000, "completion_tokens": 0}],
        )
        UsageRecord.objects.filter(pk=record.pk).update(created_at=at)
    yield {"alpha": org_alpha, "beta": org_beta}
    for organization in (org_alpha, org_beta):
        _clean(organization.schema_name)


def activity(schema_name: str, period: str, start: datetime) -> ActivityRollup | None:
    with schema_context(schema_name):
        return ActivityRollup.objects.filter(period=period, period_start=start).first()


def test_a_worker_rolls_up_a_day_from_the_raw_rows(
    a_day_of_usage: dict[str, Any], celery_worker_process: str
) -> None:
    alpha = a_day_of_usage["alpha"].schema_name

    roll_up_usage.delay(alpha, "day", DAY.replace(hour=13).isoformat())

    day = wait_for(lambda: activity(alpha, "day", DAY))
    assert day.turns == 4
    assert day.failed_turns == 1
    assert day.error_rate == 0.25
    assert day.conversations == 1
    assert day.voice_to_voice_p50_ms == pytest.approx(600.0)
    assert day.voice_to_voice_p95_ms == pytest.approx(780.0)
    assert day.minutes == pytest.approx(2.0)
    assert day.prompt_tokens == 1200
    assert day.completion_tokens == 500
    # gpt-4o-mini: 1,200 prompt tokens at $0.00015/1k + 500 at $0.0006/1k; whisper: 0.5 min
    # at $0.006.
    expected = Decimal("0.00018") + Decimal("0.0003") + Decimal("0.003")
    assert day.cost_usd == expected
    with schema_context(alpha):
        by_outcome = {
            (r.stage, r.outcome): r
            for r in UsageRollup.objects.filter(period="day", period_start=DAY)
        }
    assert by_outcome[("llm", "cancelled")].estimated_tokens == 200
    assert by_outcome[("llm", "answered")].prompt_tokens == 1000
    assert by_outcome[("stt", "answered")].stt_seconds == 30.0
    # Beta's rows stayed in beta's schema: alpha's day does not include them.
    assert activity(a_day_of_usage["beta"].schema_name, "day", DAY) is None


def test_the_beat_entry_point_rolls_up_organizations_with_new_usage_in_their_own_schema(
    a_day_of_usage: dict[str, Any], celery_worker_process: str
) -> None:
    alpha, beta = (a_day_of_usage[slug].schema_name for slug in ("alpha", "beta"))
    with schema_context(alpha):
        usage_record(conversation_id=None, records=[{**GPT_4O_MINI, "prompt_tokens": 7}])
    # The beat task refreshes the recent periods of organizations with new usage; this test's
    # day is long past, so ask the per-tenant task for it directly, through the same queue.
    assert roll_up_usage_everywhere.apply().get() >= 1
    for schema_name in (alpha, beta):
        roll_up_usage.delay(schema_name, "hour", DAY.replace(hour=10).isoformat())

    hour = DAY.replace(hour=10)
    alpha_hour = wait_for(lambda: activity(alpha, "hour", hour))
    beta_hour = wait_for(lambda: activity(beta, "hour", hour))
    assert (alpha_hour.turns, beta_hour.turns) == (4, 1)
    assert beta_hour.voice_to_voice_p50_ms == 2000.0
    assert beta_hour.cost_usd == Decimal("0.0015")
    # The fan-out reached alpha's current hour, which has the new record.
    now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    wait_for(lambda: activity(alpha, "hour", now_hour))


def test_rolling_up_again_recomputes_instead_of_adding(a_day_of_usage: dict[str, Any]) -> None:
    alpha = a_day_of_usage["alpha"].schema_name
    with schema_context(alpha):
        first = usage_roll_up(period="day", period_start=DAY)
        second = usage_roll_up(period="day", period_start=DAY)
        assert UsageRollup.objects.filter(period="day", period_start=DAY).count() == 4
    assert first.pk == second.pk
    assert (first.cost_usd, first.turns) == (second.cost_usd, second.turns)


# A day of its own for the quality signals.
QUALITY_DAY = datetime(2021, 6, 1, tzinfo=UTC)


def test_a_day_rolls_up_success_rate_satisfaction_and_audio_quality(org_alpha: Any) -> None:
    """Outcomes, refusals, ratings, per-turn audio quality and DNSMOS scores of one day."""
    from conversations.models import Feedback, MosScore, SessionRefusal

    at = QUALITY_DAY.replace(hour=9)
    with schema_context(org_alpha.schema_name):
        outcomes = ["completed", "completed", "ended_by_agent", "failed", "abandoned", ""]
        conversations = [
            Conversation.objects.create(started_at=at, outcome=outcome, playback_underruns=1)
            for outcome in outcomes
        ]
        SessionRefusal.objects.create(hour=at, reason="cap", count=2)
        for conversation, rating in zip(conversations, ["up", "up", "up", "down"], strict=False):
            Feedback.objects.create(
                conversation=conversation,
                rating=rating,
                source="api",
                created_at=at,
                updated_at=at,
            )
        for level, clipping, snr, status, stage in [
            (-20.0, 0.0, 30.0, "completed", ""),
            (-30.0, 0.02, 10.0, "failed", "stt"),
        ]:
            TurnMetrics.objects.create(
                conversation=conversations[0],
                created_at=at,
                input_level_dbfs=level,
                clipping_ratio=clipping,
                snr_db=snr,
                status=status,
                failed_stage=stage,
            )
        for direction, ovrl in [("input", 3.0), ("input", 4.0), ("output", 4.2)]:
            MosScore.objects.create(
                conversation=conversations[0],
                direction=direction,
                sig=ovrl,
                bak=ovrl,
                ovrl=ovrl,
                created_at=at,
            )
        day = usage_roll_up(period="day", period_start=at)
    # Ended: the five with an outcome; succeeded: completed twice and ended by the agent.
    assert (day.conversations_ended, day.conversations_succeeded) == (5, 3)
    assert (day.conversations_failed, day.conversations_abandoned) == (1, 1)
    assert day.sessions_refused == 2
    assert day.success_rate == pytest.approx(3 / 7)
    assert (day.feedback_up, day.feedback_down, day.satisfaction) == (3, 1, 0.75)
    assert (day.turns, day.failed_turns) == (2, 1)
    assert day.input_level_dbfs_avg == pytest.approx(-25.0)
    assert day.clipping_ratio_avg == pytest.approx(0.01)
    assert day.snr_db_avg == pytest.approx(20.0)
    assert day.input_mos_ovrl_avg == pytest.approx(3.5)
    assert day.output_mos_ovrl_avg == pytest.approx(4.2)
    assert day.playback_underruns == 5
