"""/metrics and what feeds it: turn latencies, live sessions, event-loop lag."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from pytest_django.fixtures import Settings

from monitoring.loop_lag import INTERVAL_S, ensure_loop_lag_monitor
from monitoring.metrics import PrometheusMetricsSink


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_a_blocked_event_loop_shows_up_as_lag() -> None:
    ensure_loop_lag_monitor()
    ensure_loop_lag_monitor()  # idempotent: one monitor per loop
    await asyncio.sleep(INTERVAL_S * 2)
    before_count = sample("aura_event_loop_lag_seconds_count")
    before_slow = before_count - sample("aura_event_loop_lag_seconds_bucket", {"le": "0.1"})
    time.sleep(0.3)  # noqa: ASYNC251 - the blocking call under test, as a careless coroutine would
    await asyncio.sleep(INTERVAL_S * 3)
    after_count = sample("aura_event_loop_lag_seconds_count")
    after_slow = after_count - sample("aura_event_loop_lag_seconds_bucket", {"le": "0.1"})
    assert after_slow - before_slow == 1
    assert after_count - before_count >= 2


def test_turn_latencies_land_in_the_stage_histogram_in_seconds() -> None:
    labels = {"stage": "voice_to_voice", "status": "completed"}
    before = sample("aura_turn_stage_seconds_sum", labels)
    PrometheusMetricsSink().observe("voice_to_voice_ms", 850.0, {"status": "completed"})
    assert sample("aura_turn_stage_seconds_sum", labels) - before == pytest.approx(0.85)


def test_the_machine_itself_may_read_metrics_without_a_token(settings: Settings) -> None:
    settings.AURA_METRICS_TOKEN = ""
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert b"aura_event_loop_lag_seconds" in response.content


def test_others_need_the_operator_token(settings: Settings) -> None:
    settings.AURA_METRICS_TOKEN = ""
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 403
    settings.AURA_METRICS_TOKEN = "s3cret-token"
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert outsider.get("/metrics").status_code == 403
    assert outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    granted = outsider.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert granted.status_code == 200
