"""Realtime voice sessions: plan limits, memory, resume, leases, connection and client limits."""

from __future__ import annotations

from .environment import env

# Limits by plan; a live session counts against concurrent_sessions.
AURA_PLAN_LIMITS = {
    "free": {
        "concurrent_sessions": env.int("AURA_FREE_CONCURRENT_SESSIONS", default=20),
        "responses_per_minute": env.int("AURA_FREE_RESPONSES_PER_MINUTE", default=120),
    },
    "pro": {"concurrent_sessions": 200, "responses_per_minute": 1200},
    "enterprise": {"concurrent_sessions": 2000, "responses_per_minute": 12000},
}

# Memory: past this much unsummarised text (about 4 characters a token), older turns are folded
# into a summary by a Celery task; the most recent messages always stay verbatim.
AURA_MEMORY_SUMMARY_AFTER_CHARS: int = env.int("AURA_MEMORY_SUMMARY_AFTER_CHARS", default=4000)
AURA_MEMORY_KEEP_MESSAGES: int = env.int("AURA_MEMORY_KEEP_MESSAGES", default=6)
# How long a dropped realtime session can be resumed (on any web process).
AURA_RESUME_WINDOW_SECONDS: int = env.int("AURA_RESUME_WINDOW_SECONDS", default=120)
# A resume snapshot keeps the newest messages that fit in this many bytes (older ones are in
# PostgreSQL and the memory summary).
AURA_RESUME_SNAPSHOT_MAX_BYTES: int = env.int("AURA_RESUME_SNAPSHOT_MAX_BYTES", default=256 * 1024)
# How long a socket's session leases outlive its last renewal (a crashed process's lapse).
AURA_SESSION_LEASE_SECONDS: int = env.int("AURA_SESSION_LEASE_SECONDS", default=90)
# Bounded memory per realtime connection: events a second (and burst), text per item and per
# conversation, and output a client may leave unread before it is closed (1008).
AURA_REALTIME_EVENTS_PER_SECOND: float = env.float("AURA_REALTIME_EVENTS_PER_SECOND", default=200.0)
AURA_REALTIME_EVENT_BURST: int = env.int("AURA_REALTIME_EVENT_BURST", default=500)
AURA_REALTIME_MAX_ITEM_CHARS: int = env.int("AURA_REALTIME_MAX_ITEM_CHARS", default=32_000)
AURA_REALTIME_MAX_CONVERSATION_CHARS: int = env.int(
    "AURA_REALTIME_MAX_CONVERSATION_CHARS", default=256_000
)
AURA_REALTIME_MAX_UNSENT_BYTES: int = env.int(
    "AURA_REALTIME_MAX_UNSENT_BYTES", default=8 * 1024 * 1024
)
# SIGTERM: live sessions are sent elsewhere (close 1012) and their writes drained within this;
# daphne's --application-close-timeout must be longer (the Procfile and image use 30).
AURA_SHUTDOWN_GRACE_SECONDS: int = env.int("AURA_SHUTDOWN_GRACE_SECONDS", default=20)
# Above 0: every web process logs "census: N asyncio tasks, M live sessions" this often
# (leak hunting; bench/soak.py sets it).
AURA_REALTIME_CENSUS_LOG_SECONDS: float = env.float("AURA_REALTIME_CENSUS_LOG_SECONDS", default=0)
# Every this many seconds a web process gives the free pages of its C heap back to the system
# (glibc's malloc_trim; nothing elsewhere): without it RSS keeps the high-water mark of the
# busiest moment (monitoring/memory_trim.py, docs/benchmarks.md). 0 turns it off.
AURA_MALLOC_TRIM_SECONDS: float = env.float("AURA_MALLOC_TRIM_SECONDS", default=30)
# The recovery task writes journaled turns older than this (their process is presumed gone).
AURA_TURN_JOURNAL_GRACE_SECONDS: int = env.int("AURA_TURN_JOURNAL_GRACE_SECONDS", default=30)
# Public realtime clients (a widget's pk_, a browser's ek_): live sessions per client address,
# and the share of its plan's sessions one publishable key may hold. Secret keys: the plan only.
AURA_REALTIME_SESSIONS_PER_ADDRESS: int = env.int("AURA_REALTIME_SESSIONS_PER_ADDRESS", default=10)
AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE: float = env.float(
    "AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE", default=0.5
)
# Connection attempts of public clients ("N/second|minute|hour"): per client address (refused
# attempts included) and per key (a client secret counts against the key that minted it).
AURA_REALTIME_CONNECTS_PER_ADDRESS: str = env(
    "AURA_REALTIME_CONNECTS_PER_ADDRESS", default="60/minute"
)
AURA_REALTIME_CONNECTS_PER_KEY: str = env("AURA_REALTIME_CONNECTS_PER_KEY", default="600/minute")
# POST /v1/realtime/client_secrets, per client address and per secret key.
AURA_CLIENT_SECRETS_RATE_PER_ADDRESS: str = env(
    "AURA_CLIENT_SECRETS_RATE_PER_ADDRESS", default="600/minute"
)
AURA_CLIENT_SECRETS_RATE_PER_KEY: str = env(
    "AURA_CLIENT_SECRETS_RATE_PER_KEY", default="600/minute"
)
# Realtime session limits.
AURA_SESSION_IDLE_TIMEOUT_SECONDS: int = env.int("AURA_SESSION_IDLE_TIMEOUT_SECONDS", default=300)
AURA_SESSION_MAX_SECONDS: int = env.int("AURA_SESSION_MAX_SECONDS", default=3600)
# Share of user turns and spoken answers scored with DNSMOS P.835 by a Celery task (0 turns
# it off); each costs ~0.2 s of one worker core (docs/deployment/monitoring.md).
AURA_MOS_SAMPLE_RATE: float = min(1.0, max(0.0, env.float("AURA_MOS_SAMPLE_RATE", default=0.05)))
# Load the embedded models when the server starts, so that no conversation waits for them.
AURA_WARM_UP_LOCAL_MODELS: bool = env.bool("AURA_WARM_UP_LOCAL_MODELS", default=True)
