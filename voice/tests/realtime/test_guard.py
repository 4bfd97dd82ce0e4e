"""A connection's share of the limits (voice/realtime/guard.py), on a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import override_settings

from voice.engine.errors import AudioFormatError, AuraError
from voice.realtime.guard import SessionGuard, TokenBucket
from voice.realtime.limits import LimitExceededError
from voice.realtime.wire import CLOSE_IDLE


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeHost:
    def __init__(self) -> None:
        self.notified: list[dict[str, Any]] = []
        self.ended: list[tuple[str, int, bool]] = []

    def notify(self, payload: dict[str, Any]) -> None:
        self.notified.append(payload)

    async def end_with(self, error: AuraError, close_code: int, *, for_good: bool) -> None:
        self.ended.append((error.code, close_code, for_good))

    async def taken_over(self, by_socket_id: str | None = None) -> None: ...


def guard(clock: FakeClock, host: FakeHost | None = None) -> SessionGuard:
    return SessionGuard(
        host or FakeHost(), schema_name="org_guard", responses_per_minute=60, clock=clock
    )


def test_a_token_bucket_allows_its_burst_then_its_rate():
    clock = FakeClock()
    bucket = TokenBucket(10, 5, clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.25  # 2.5 tokens back
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 5


@override_settings(AURA_REALTIME_EVENTS_PER_SECOND=10, AURA_REALTIME_EVENT_BURST=3)
def test_events_past_the_rate_are_refused_once_a_second_then_dropped_silently():
    clock = FakeClock()
    limits = guard(clock)
    assert all(limits.admit_event() for _ in range(3))
    with pytest.raises(LimitExceededError) as refused:
        limits.admit_event()
    assert refused.value.code == "event_rate_exceeded"
    assert limits.admit_event() is False  # within the same second: no second error
    clock.now += 1.0  # refilled up to the burst
    assert all(limits.admit_event() for _ in range(3))
    with pytest.raises(LimitExceededError, match="2 dropped"):
        limits.admit_event()


def test_audio_much_faster_than_real_time_is_refused():
    clock = FakeClock()
    limits = guard(clock)
    one_second = 48_000  # PCM16 at 24 kHz
    limits.admit_audio(b"\0" * one_second, bytes_per_second=one_second)  # within the burst
    limits.admit_audio(b"\0" * one_second, bytes_per_second=one_second)
    with pytest.raises(AudioFormatError) as refused:
        limits.admit_audio(b"\0" * one_second, bytes_per_second=one_second)
    assert refused.value.code == "audio_rate_exceeded"
    clock.now += 1.0  # four seconds of audio may arrive in one
    limits.admit_audio(b"\0" * one_second, bytes_per_second=one_second)


@override_settings(AURA_REALTIME_MAX_UNSENT_BYTES=1000)
def test_a_client_leaving_too_much_unread_gets_an_error_that_closes_it():
    limits = guard(FakeClock())
    assert limits.check_backlog(1000) is None
    error = limits.check_backlog(1001)
    assert error is not None
    assert error.code == "client_not_reading"


@override_settings(AURA_SESSION_IDLE_TIMEOUT_SECONDS=1, AURA_SESSION_MAX_SECONDS=3600)
async def test_a_silent_client_is_ended_by_the_watchdog_not_for_good():
    clock = FakeClock()
    host = FakeHost()
    limits = guard(clock, host)
    limits.start()
    try:
        clock.now += 5
        for _ in range(50):
            if host.ended:
                break
            await asyncio.sleep(0.1)
    finally:
        await limits.stop()
    assert host.ended == [("idle_timeout", CLOSE_IDLE, False)]


@override_settings(AURA_SESSION_IDLE_TIMEOUT_SECONDS=1, AURA_SESSION_MAX_SECONDS=3600)
async def test_a_client_that_keeps_talking_is_not_idle():
    clock = FakeClock()
    host = FakeHost()
    limits = guard(clock, host)
    limits.start()
    try:
        for _ in range(3):
            clock.now += 0.5
            limits.client_event()
            await asyncio.sleep(1.05)
    finally:
        await limits.stop()
    assert host.ended == []
