"""Prometheus metrics of this process: turn latencies, live sessions, event-loop lag.

Labels never name a tenant: /metrics is one endpoint for the whole platform, and a label value
would tell anyone who can read it which organizations exist. Per-tenant usage lives in the
tenants' own schemas.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

# From 5 ms (a healthy loop) to 2.5 s (something blocked it badly).
LAG_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

EVENT_LOOP_LAG = Histogram(
    "aura_event_loop_lag_seconds",
    "How late the event loop ran a timer: time other work kept it busy.",
    buckets=LAG_BUCKETS_S,
)
ACTIVE_SESSIONS = Gauge("aura_realtime_sessions", "Realtime sessions open in this process.")
TURN_STAGE = Histogram(
    "aura_turn_stage_seconds",
    "Latency of each stage of a voice turn (stt, llm_first_token, first_clause, "
    "tts_first_audio, voice_to_voice).",
    ["stage", "status"],
    buckets=LATENCY_BUCKETS_S,
)
AUDIO_SECONDS = Counter("aura_audio_seconds", "Audio processed, by direction.", ["direction"])
OUTPUT_TOKENS = Counter("aura_llm_output_tokens", "Tokens the language models produced.")

_STAGES = {
    "stt_ms": "stt",
    "llm_first_token_ms": "llm_first_token",
    "first_clause_ms": "first_clause",
    "tts_first_audio_ms": "tts_first_audio",
    "voice_to_voice_ms": "voice_to_voice",
}


class PrometheusMetricsSink:
    """The engine's `MetricsSink` port, recording into this process's Prometheus registry."""

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
