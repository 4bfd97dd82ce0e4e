import uuid

import pytest

from voice.realtime.limits import (
    LimitExceededError,
    live_sessions,
    response_allowed,
    session_slot_acquire,
    session_slot_release,
)


@pytest.fixture
def schema_name() -> str:
    # A fresh name per test: the counters live in the real Redis.
    return f"org_limits_{uuid.uuid4().hex[:8]}"


async def test_sessions_beyond_the_cap_are_refused_until_one_ends(schema_name):
    assert await session_slot_acquire(schema_name=schema_name, session_id="a", cap=2) == 1
    assert await session_slot_acquire(schema_name=schema_name, session_id="b", cap=2) == 2
    with pytest.raises(LimitExceededError, match="2 live sessions") as caught:
        await session_slot_acquire(schema_name=schema_name, session_id="c", cap=2)
    assert caught.value.code == "session_limit_reached"

    await session_slot_release(schema_name=schema_name, session_id="a")
    assert await session_slot_acquire(schema_name=schema_name, session_id="c", cap=2) == 2
    assert await live_sessions(schema_name) == 2


async def test_renewing_a_held_lease_does_not_count_twice(schema_name):
    await session_slot_acquire(schema_name=schema_name, session_id="a", cap=1)
    assert await session_slot_acquire(schema_name=schema_name, session_id="a", cap=1) == 1


async def test_organizations_do_not_share_session_counts(schema_name):
    await session_slot_acquire(schema_name=schema_name, session_id="a", cap=1)
    other = schema_name + "_other"
    assert await session_slot_acquire(schema_name=other, session_id="a", cap=1) == 1


async def test_responses_beyond_the_minute_window_are_refused(schema_name):
    first = await response_allowed(schema_name=schema_name, per_minute=3)
    assert (first.limit, first.remaining) == (3, 2)
    await response_allowed(schema_name=schema_name, per_minute=3)
    last = await response_allowed(schema_name=schema_name, per_minute=3)
    assert last.remaining == 0
    with pytest.raises(LimitExceededError, match="3 a minute"):
        await response_allowed(schema_name=schema_name, per_minute=3)
