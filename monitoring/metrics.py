"""Prometheus metrics of AURA's processes: turn latencies, live sessions, event-loop lag,
provider errors, failovers and circuit states, barge-ins, Celery task outcomes.

Labels never name a tenant: /metrics is one endpoint for the whole platform, and a label value
would tell anyone who can read it which organizations exist (and tenants are unbounded).
Per-tenant usage lives in the tenants' own schemas. Every label here has a small fixed set of
values: stages, statuses, provider kinds, circuit states, task names from the code.

Several processes (Celery's prefork children; several servers in one container) write to one
set of files when `PROMETHEUS_MULTIPROC_DIR` names a directory in their environment before they
start; `scrape_registry()` then aggregates them (docs/deployment/monitoring.md).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
)

logger = logging.getLogger(__name__)

# prometheus_client leaves its multiprocess helpers unannotated: their signatures, typed once.
_mark_process_dead: Callable[[int, str], None] = multiprocess.mark_process_dead
_multiprocess_collector: Callable[[CollectorRegistry, str], object] = (
    multiprocess.MultiProcessCollector
)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# From 5 ms (a healthy loop) to 2.5 s (something blocked it badly).
LAG_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
TASK_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)

EVENT_LOOP_LAG = Histogram(
    "aura_event_loop_lag_seconds",
    "How late the event loop ran a timer: time other work kept it busy.",
    buckets=LAG_BUCKETS_S,
)
# livesum: the sessions of the processes that are alive, added up.
ACTIVE_SESSIONS = Gauge(
    "aura_realtime_sessions",
    "Realtime sessions open (in live processes).",
    multiprocess_mode="livesum",
)
TURN_STAGE = Histogram(
    "aura_turn_stage_seconds",
    "Latency of each stage of a voice turn (stt, llm_first_token, first_clause, "
    "tts_first_audio, voice_to_voice).",
    ["stage", "status"],
    buckets=LATENCY_BUCKETS_S,
)
AUDIO_SECONDS = Counter("aura_audio_seconds", "Audio processed, by direction.", ["direction"])
OUTPUT_TOKENS = Counter("aura_llm_output_tokens", "Tokens the language models produced.")
PROVIDER_ERRORS = Counter(
    "aura_provider_errors",
    "Provider calls that failed, by stage (stt, llm, tts) and provider kind.",
    ["stage", "provider"],
)
PROVIDER_FAILOVERS = Counter(
    "aura_provider_failovers",
    "Calls answered by a route after another route of the stage failed or was skipped; "
    "provider is the one that answered.",
    ["stage", "provider"],
)
PROVIDER_CIRCUITS = Gauge(
    "aura_provider_circuits",
    "Circuit breakers by state (closed, open, half_open), added up over live processes.",
    ["stage", "provider", "state"],
    multiprocess_mode="livesum",
)
PROVIDER_CIRCUIT_TRANSITIONS = Counter(
    "aura_provider_circuit_transitions",
    "Circuit breaker state changes, by the state entered.",
    ["stage", "provider", "state"],
)
BARGE_INS = Counter(
    "aura_barge_ins", "User speech that stopped an answer, by outcome.", ["outcome"]
)
CELERY_TASKS = Counter(
    "aura_celery_tasks",
    "Celery tasks finished, by task name and outcome (success, failure, retry, ...).",
    ["task", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "aura_celery_task_duration_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=TASK_BUCKETS_S,
)

# Quality signals (docs/deployment/monitoring.md#quality-signals).
TURNS = Counter(
    "aura_turns",
    "Turns finished, by status (completed, cancelled, failed) and, for a failed one, the stage "
    "it failed at (stt, llm, tts, tool, transport, internal).",
    ["status", "failed_stage"],
)
CONVERSATIONS = Counter(
    "aura_conversations",
    "Conversations let go of by a socket, by outcome (completed, ended_by_agent, abandoned, "
    "ended_by_operator, failed, refused); sessions refused at the door count as refused.",
    ["outcome"],
)
SESSIONS_REFUSED = Counter(
    "aura_sessions_refused", "Sessions refused at the door, by reason.", ["reason"]
)
FEEDBACK = Counter(
    "aura_feedback",
    "Ratings given, by rating (up, down) and target (conversation, answer).",
    ["rating", "target"],
)
AUDIO_INPUT_LEVEL = Histogram(
    "aura_audio_input_level_dbfs",
    "Speech level of user turns (RMS, dBFS).",
    buckets=(-60.0, -50.0, -40.0, -35.0, -30.0, -25.0, -20.0, -15.0, -10.0, -5.0, 0.0),
)
AUDIO_CLIPPING = Histogram(
    "aura_audio_clipping_ratio",
    "Share of clipped samples in user turns.",
    buckets=(0.0, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
)
AUDIO_SNR = Histogram(
    "aura_audio_snr_db",
    "Speech-to-noise estimate of user turns (dB), from the VAD's segmentation.",
    buckets=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0),
)
AUDIO_INPUT_JITTER = Histogram(
    "aura_audio_input_jitter_seconds",
    "Arrival jitter of input audio against real time, per user turn.",
    buckets=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5),
)
AUDIO_INPUT_GAPS = Counter(
    "aura_audio_input_gaps", "Input audio that arrived over 100 ms later than real time."
)
STT_CONFIDENCE = Histogram(
    "aura_stt_confidence",
    "Transcription confidence where the provider reports one (0-1).",
    buckets=(0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0),
)
PLAYBACK_UNDERRUNS = Counter(
    "aura_playback_underruns", "Times the widget's playback ran dry mid-answer (it reports)."
)
PLAYBACK_LATE_AUDIO = Counter(
    "aura_playback_late_audio_seconds", "Time the widget waited for audio that was due."
)
AUDIO_MOS = Histogram(
    "aura_audio_mos",
    "DNSMOS P.835 of sampled audio, by direction (input: user speech, output: synthesized "
    "answers) and dimension (sig, bak, ovrl).",
    ["direction", "dimension"],
    buckets=(1.0, 1.5, 2.0, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.5, 5.0),
)
_QUALITY_HISTOGRAMS = {
    "audio_level_dbfs": (AUDIO_INPUT_LEVEL, 1.0),
    "audio_clipping_ratio": (AUDIO_CLIPPING, 1.0),
    "audio_snr_db": (AUDIO_SNR, 1.0),
    "audio_arrival_jitter_ms": (AUDIO_INPUT_JITTER, 0.001),
    "audio_stt_confidence": (STT_CONFIDENCE, 1.0),
}
KNOWN_TURN_STATUSES = frozenset({"completed", "cancelled", "incomplete", "failed"})
KNOWN_FAILED_STAGES = frozenset({"", "stt", "llm", "tts", "tool", "transport", "internal"})

_STAGES = {
    "stt_ms": "stt",
    "llm_first_token_ms": "llm_first_token",
    "first_clause_ms": "first_clause",
    "tts_first_audio_ms": "tts_first_audio",
    "voice_to_voice_ms": "voice_to_voice",
}
# Provider kinds the engine builds (voice/engine/routing/providers.py); anything else is "other".
KNOWN_PROVIDERS = frozenset({"local", "openai", "openai_compatible", "grok"})
KNOWN_ROUTE_STAGES = frozenset({"stt", "llm", "tts"})
CIRCUIT_STATES = frozenset({"closed", "open", "half_open"})


def _bounded(value: str, known: frozenset[str]) -> str:
    return value if value in known else "other"


class PrometheusMetricsSink:
    """The engine's `MetricsSink` port, recording into this process's Prometheus metrics."""

    def observe(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        status = labels.get("status", "")
        if name in _STAGES:
            TURN_STAGE.labels(stage=_STAGES[name], status=status).observe(value / 1000)
        elif name == "audio_in_s":
            AUDIO_SECONDS.labels(direction="in").inc(value)
        elif name == "audio_out_s":
            AUDIO_SECONDS.labels(direction="out").inc(value)
        elif name == "output_tokens":
            OUTPUT_TOKENS.inc(value)
        elif name in ("provider_error", "provider_failover"):
            counter = PROVIDER_ERRORS if name == "provider_error" else PROVIDER_FAILOVERS
            counter.labels(**_route_labels(labels)).inc(value)
        elif name == "circuit_transition":
            self._circuit_transition(labels)
        elif name == "barge_in":
            BARGE_INS.labels(outcome=labels.get("outcome", "interrupted")).inc(value)
        elif name == "turn":
            TURNS.labels(
                status=_bounded(status, KNOWN_TURN_STATUSES),
                failed_stage=_bounded(labels.get("failed_stage", ""), KNOWN_FAILED_STAGES),
            ).inc(value)
        elif name in _QUALITY_HISTOGRAMS:
            histogram, scale = _QUALITY_HISTOGRAMS[name]
            histogram.observe(value * scale)
        elif name == "audio_arrival_gaps":
            AUDIO_INPUT_GAPS.inc(value)

    @staticmethod
    def _circuit_transition(labels: Mapping[str, str]) -> None:
        route = _route_labels(labels)
        previous, state = labels.get("from", ""), labels.get("to", "")
        if previous in CIRCUIT_STATES:
            PROVIDER_CIRCUITS.labels(**route, state=previous).dec()
        if state in CIRCUIT_STATES:
            PROVIDER_CIRCUITS.labels(**route, state=state).inc()
            if previous:
                PROVIDER_CIRCUIT_TRANSITIONS.labels(**route, state=state).inc()


def _route_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {
        "stage": _bounded(labels.get("stage", ""), KNOWN_ROUTE_STAGES),
        "provider": _bounded(labels.get("provider", ""), KNOWN_PROVIDERS),
    }


# --- Multiprocess mode -------------------------------------------------------------------------


def multiprocess_dir() -> Path | None:
    """The directory processes share their metrics in, when multiprocess mode is on."""
    configured = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return Path(configured) if configured else None


# prometheus_client names a live gauge's file `gauge_<mode>_<pid>.db`.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def forget_dead_processes(directory: Path) -> list[int]:
    """Drop the live gauges of processes that are gone (killed, or exited without a hook).

    Counters and histograms of a dead process stay (what it counted happened); its share of
    "live" gauges, such as open sessions, must not. Returns the pids forgotten.
    """
    forgotten = []
    for path in directory.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if not _process_alive(pid):
            _mark_process_dead(pid, str(directory))
            forgotten.append(pid)
    return forgotten


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def scrape_registry() -> CollectorRegistry:
    """What /metrics exposes: every process's files aggregated, or this process's registry."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    forget_dead_processes(directory)
    registry = CollectorRegistry()
    _multiprocess_collector(registry, str(directory))
    return registry


# --- Celery ---------------------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


def _task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(task=name, outcome=(state or "unknown").lower()).inc()
    started = _task_started.pop(task_id, None) if task_id else None
    if started is not None:
        CELERY_TASK_DURATION.labels(task=name).observe(time.monotonic() - started)


def _worker_process_shutdown(pid: int | None = None, **_: Any) -> None:
    directory = multiprocess_dir()
    if directory is not None:
        _mark_process_dead(pid or os.getpid(), str(directory))


def _worker_ready(**_: Any) -> None:
    """Serve the worker's metrics (all its pool processes aggregated) on its own port."""
    port = os.environ.get("AURA_WORKER_METRICS_PORT")
    if not port:
        return
    if multiprocess_dir() is None:
        # Tasks run in the pool's child processes: without shared files nothing they count
        # would reach this process's registry.
        logger.warning(
            "AURA_WORKER_METRICS_PORT is set without %s: task metrics of pool processes "
            "are not exported",
            MULTIPROC_DIR_VARIABLE,
        )
    from prometheus_client import start_http_server

    address = os.environ.get("AURA_WORKER_METRICS_ADDRESS", "127.0.0.1")
    start_http_server(int(port), addr=address, registry=scrape_registry())
    logger.info("worker metrics on http://%s:%s/metrics", address, port)


def connect_celery_signals() -> None:
    """Count task outcomes and durations; with AURA_WORKER_METRICS_PORT, serve them."""
    from celery import signals

    signals.task_prerun.connect(_task_prerun, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    signals.worker_process_shutdown.connect(_worker_process_shutdown, weak=False)
    signals.worker_ready.connect(_worker_ready, weak=False)
