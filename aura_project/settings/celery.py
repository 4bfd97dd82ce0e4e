"""Celery: broker, task defaults and the beat schedule."""

from __future__ import annotations

from .environment import env
from .stores import REDIS_URL

CELERY_BROKER_URL: str = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND: str | None = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_DEFAULT_QUEUE: str = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Synced into django-celery-beat's tables by its DatabaseScheduler; editable in the admin.
CELERY_BEAT_SCHEDULE = {
    "end-stale-conversations": {
        "task": "conversations.end_stale_everywhere",
        "schedule": 600.0,
    },
    # Usage rollups: the last hours and today, every organization (idempotent recomputation).
    "roll-up-usage": {
        "task": "monitoring.roll_up_usage_everywhere",
        "schedule": 300.0,
    },
    # Realtime durability: journaled turns a dead process did not store are stored, and
    # conversations whose session is gone for good (no lease, no snapshot) are ended.
    "recover-realtime-sessions": {
        "task": "voice.recover_realtime_sessions",
        "schedule": 60.0,
    },
    # Key lifecycle: auto-rotation by age, disabling of expired keys (both audited).
    "rotate-api-keys": {
        "task": "tenants.rotate_api_keys",
        "schedule": 3600.0,
    },
}
