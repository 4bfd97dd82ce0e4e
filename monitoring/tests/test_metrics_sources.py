"""What feeds the new metrics: processes' files, circuit breakers, session events, Celery."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from prometheus_client import REGISTRY, CollectorRegistry

from aura_project.celery import app as celery_app
from monitoring.metrics import PrometheusMetricsSink, forget_dead_processes, scrape_registry
from voice.engine import events as ev
from voice.engine.observability.event_metrics import SessionEventMetrics
from voice.engine.routing.breaker import BreakerPolicy, BreakerRegistry


def sample(
    name: str, labels: dict[str, str] | None = None, registry: CollectorRegistry = REGISTRY
) -> float:
    return registry.get_sample_value(name, labels or {}) or 0.0


WRITER = textwrap.dedent(
    """
    import sys, time
    from monitoring.metrics import ACTIVE_SESSIONS, PrometheusMetricsSink
    PrometheusMetricsSink().observe("provider_error", 1.0, {"stage": "llm", "provider": "openai"})
    ACTIVE_SESSIONS.inc(2)
    print("written", flush=True)
    if sys.argv[1] == "stay":
        time.sleep(60)
    """
)


def test_several_processes_are_aggregated_and_dead_ones_leave_the_live_gauges(
    tmp_path, monkeypatch
):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    exited = subprocess.run(
        [sys.executable, "-c", WRITER, "exit"], env=env, check=True, capture_output=True
    )
    assert b"written" in exited.stdout
    staying = subprocess.Popen(
        [sys.executable, "-c", WRITER, "stay"], env=env, stdout=subprocess.PIPE
    )
    try:
        assert staying.stdout is not None
        assert staying.stdout.readline().strip() == b"written"
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        registry = scrape_registry()
        errors = {"stage": "llm", "provider": "openai"}
        # Counters add up over every process, finished or not.
        assert sample("aura_provider_errors_total", errors, registry) == 2
        # Open sessions count only live processes: the one that exited had 2 open.
        assert sample("aura_realtime_sessions", None, registry) == 2
        assert forget_dead_processes(tmp_path) == []  # already forgotten at the scrape
    finally:
        staying.kill()
        staying.wait()


def test_circuit_transitions_move_the_circuit_gauge():
    class Clock:
        now = 0.0

        def monotonic(self) -> float:
            return self.now

    clock = Clock()
    registry = BreakerRegistry(
        policy=BreakerPolicy(failure_threshold=2, cooldown_s=10), clock=clock
    )
    registry.report_to(PrometheusMetricsSink())
    route = {"stage": "tts", "provider": "openai"}

    def circuits(state: str) -> float:
        return sample("aura_provider_circuits", {**route, "state": state})

    before = {state: circuits(state) for state in ("closed", "open", "half_open")}
    breaker = registry.get("tts:openai/tts-1@https://tenant.example/v1")
    assert circuits("closed") - before["closed"] == 1
    breaker.record_failure()
    breaker.record_failure()
    assert circuits("open") - before["open"] == 1
    assert circuits("closed") - before["closed"] == 0
    clock.now = 11
    assert breaker.allow_request()  # half-open probe
    assert circuits("half_open") - before["half_open"] == 1
    breaker.record_success()
    assert circuits("closed") - before["closed"] == 1
    assert circuits("open") - before["open"] == 0


def test_session_events_count_provider_errors_failovers_and_barge_ins():
    counts = SessionEventMetrics(PrometheusMetricsSink())
    failed = {"stage": "llm", "provider": "openai"}
    answered = {"stage": "llm", "provider": "openai_compatible"}
    before = (
        sample("aura_provider_errors_total", failed),
        sample("aura_provider_failovers_total", answered),
        sample("aura_barge_ins_total", {"outcome": "interrupted"}),
    )
    counts.observe(ev.RouteDecision("llm", "openai", "gpt", "failed", "500"))
    counts.observe(ev.RouteDecision("llm", "openai_compatible", "m", "won"))
    counts.observe(ev.RouteDecision("llm", "openai_compatible", "m", "won"))  # no setback now
    counts.observe(ev.ResponseDone("resp_1", "cancelled", reason="turn_detected"))
    counts.observe(ev.ResponseDone("resp_2", "cancelled", reason="client_cancelled"))
    assert sample("aura_provider_errors_total", failed) - before[0] == 1
    assert sample("aura_provider_failovers_total", answered) - before[1] == 1
    assert sample("aura_barge_ins_total", {"outcome": "interrupted"}) - before[2] == 1


def test_unknown_providers_are_one_label_value():
    before = sample("aura_provider_errors_total", {"stage": "stt", "provider": "other"})
    PrometheusMetricsSink().observe(
        "provider_error", 1.0, {"stage": "stt", "provider": "acme-tenant-invented"}
    )
    assert sample("aura_provider_errors_total", {"stage": "stt", "provider": "other"}) == before + 1


@celery_app.task(name="monitoring.tests.succeeds")
def succeeds() -> int:
    return 1


@celery_app.task(name="monitoring.tests.fails")
def fails() -> None:
    raise ValueError("expected by the test")


def test_celery_task_outcomes_are_counted():
    ok = {"task": "monitoring.tests.succeeds", "outcome": "success"}
    bad = {"task": "monitoring.tests.fails", "outcome": "failure"}
    before_ok, before_bad = (
        sample("aura_celery_tasks_total", ok),
        sample("aura_celery_tasks_total", bad),
    )
    succeeds.apply()
    fails.apply()
    assert sample("aura_celery_tasks_total", ok) - before_ok == 1
    assert sample("aura_celery_tasks_total", bad) - before_bad == 1
    assert (
        sample("aura_celery_task_duration_seconds_count", {"task": "monitoring.tests.succeeds"})
        >= 1
    )
