"""Session slots and rate windows in the real Redis (voice/realtime/limits.py)."""

import uuid
from typing import Any

import pytest
from django.test import override_settings

from voice.realtime.limits import (
    UNLIMITED,
    LimitExceededError,
    SessionSlot,
    SessionTakenOverError,
    live_sessions,
    response_allowed,
    responses_left,
    session_slot_acquire,
    session_slot_release,
    session_slot_renew,
    slot_caps,
)


@pytest.fixture
def schema_name() -> str:
    # A fresh name per test: the counters live in the real Redis.
    return f"org_limits_{uuid.uuid4().hex[:8]}"


def slot(schema_name: str, session: str, socket: str | None = None, **options: Any) -> SessionSlot:
    values = {
        "schema_name": schema_name,
        "session_id": f"{schema_name}-{session}",
        "socket_id": f"{schema_name}-{socket or session}",
        "key_id": None,
        "address": f"{schema_name}-address",
        "organization_cap": UNLIMITED,
        **options,
    }
    return SessionSlot(**values)


async def test_sessions_beyond_the_cap_are_refused_until_one_ends(schema_name):
    a, b, c = (slot(schema_name, name, organization_cap=2) for name in "abc")
    assert await session_slot_acquire(a) == 1
    assert await session_slot_acquire(b) == 2
    with pytest.raises(LimitExceededError, match="2 live sessions") as caught:
        await session_slot_acquire(c)
    assert caught.value.code == "session_limit_reached"

    assert await session_slot_release(a) is True
    assert await session_slot_acquire(c) == 2
    assert await live_sessions(schema_name) == 2


async def test_renewing_a_held_lease_does_not_count_twice(schema_name):
    a = slot(schema_name, "a", organization_cap=1)
    await session_slot_acquire(a)
    assert await session_slot_renew(a) == 1


async def test_organizations_do_not_share_session_counts(schema_name):
    await session_slot_acquire(slot(schema_name, "a", organization_cap=1))
    other = schema_name + "_other"
    assert await session_slot_acquire(slot(other, "a", organization_cap=1)) == 1


async def test_a_key_and_an_address_hold_no_more_sockets_than_their_caps(schema_name):
    key_id = int(uuid.uuid4().int % 10**9)
    by_key = [slot(schema_name, f"k{n}", key_id=key_id, key_cap=2, address=f"{n}") for n in "123"]
    await session_slot_acquire(by_key[0])
    await session_slot_acquire(by_key[1])
    with pytest.raises(LimitExceededError) as caught:
        await session_slot_acquire(by_key[2])
    assert caught.value.code == "key_session_limit_reached"

    from_address = [slot(schema_name, f"a{n}", address_cap=1) for n in "12"]
    await session_slot_acquire(from_address[0])
    with pytest.raises(LimitExceededError) as caught:
        await session_slot_acquire(from_address[1])
    assert caught.value.code == "address_session_limit_reached"
    # The refused sockets took nothing: the organization holds the three accepted sessions.
    assert await live_sessions(schema_name) == 3


async def test_a_resume_takes_the_session_and_its_slots_over(schema_name):
    key_id = int(uuid.uuid4().int % 10**9)
    first = slot(schema_name, "s", "first", key_id=key_id, key_cap=1, organization_cap=1)
    second = slot(schema_name, "s", "second", key_id=key_id, key_cap=1, organization_cap=1)
    await session_slot_acquire(first)
    # A second socket of the same session, on a full key and organization: only as a resume.
    with pytest.raises(LimitExceededError):
        await session_slot_acquire(second)
    assert await session_slot_acquire(second, resuming=True) == 1

    with pytest.raises(SessionTakenOverError):
        await session_slot_renew(first)
    # The old socket going away leaves the session, and its lease, to the new one.
    assert await session_slot_release(first) is False
    assert await live_sessions(schema_name) == 1
    assert await session_slot_renew(second) == 1
    assert await session_slot_release(second) is True
    assert await live_sessions(schema_name) == 0


def test_public_credentials_are_capped_by_key_and_address():
    with override_settings(
        AURA_REALTIME_SESSIONS_PER_ADDRESS=4, AURA_REALTIME_PUBLISHABLE_KEY_SESSION_SHARE=0.5
    ):
        assert slot_caps(plan_cap=20, kind="pk") == (10, 4)
        assert slot_caps(plan_cap=1, kind="pk") == (1, 4)
        assert slot_caps(plan_cap=20, kind="ek") == (UNLIMITED, 4)
        assert slot_caps(plan_cap=20, kind="sk") == (UNLIMITED, UNLIMITED)


async def test_responses_beyond_the_minute_window_are_refused(schema_name):
    first = await response_allowed(schema_name=schema_name, per_minute=3)
    assert (first.limit, first.remaining) == (3, 2)
    await response_allowed(schema_name=schema_name, per_minute=3)
    last = await response_allowed(schema_name=schema_name, per_minute=3)
    assert last.remaining == 0
    assert await responses_left(schema_name=schema_name, per_minute=3) is False
    with pytest.raises(LimitExceededError, match="3 a minute") as caught:
        await response_allowed(schema_name=schema_name, per_minute=3)
    assert caught.value.retry_after_s is not None
    assert 1 <= caught.value.retry_after_s <= 60
