"""Background work of the realtime side."""

from __future__ import annotations

from celery import shared_task

from voice.realtime.recovery import realtime_recover


@shared_task(name="voice.recover_realtime_sessions")
def recover_realtime_sessions() -> dict[str, int]:
    """Beat entry point (every minute): store what dead processes journaled, end their
    conversations once they cannot be resumed (voice/realtime/recovery.py)."""
    return realtime_recover()
