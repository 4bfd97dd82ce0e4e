"""A session never outlives its client: real daphne, clients that leave mid-conversation.

A cancellation can be lost on Python 3.11 (`asyncio.wait_for` returns the result of an
operation that finished as it was cancelled; redis-py sends each command through it): a
session's lease renewal, or Channels' channel-layer receive, caught that way kept running
after its client had left, the session leased and its tasks alive for as long as the process.
The leases here outlive the test: only the sessions' closing can free them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from django.conf import settings

from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.faults import FAULT_ENV, Client
from voice.tests.realtime.server import run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

CONVERSATIONS = 24
CONCURRENCY = 8
TURNS = 4
# Renewals every half second (a third of the lease, half the resume window): many are in
# flight when clients leave. The leases themselves last far longer than the deadline below.
SERVER_ENV = {
    **FAULT_ENV,
    "AURA_SESSION_LEASE_SECONDS": "120",
    "AURA_RESUME_WINDOW_SECONDS": "1",
    # 100 answers in well under a minute, in a schema other tests answer in too: the plan's
    # responses per minute would refuse some (an `error` event, no `response.done`).
    "AURA_FREE_RESPONSES_PER_MINUTE": "100000",
}
# Well under the lease and under daphne's --application-close-timeout (30 s).
RELEASE_DEADLINE_S = 20
POLL_S = 0.2


def database_name() -> str:
    from django.db import connection

    return str(connection.settings_dict["NAME"])


def still_leased(schema_name: str, session_ids: list[str]) -> list[str]:
    """Which of these sessions still hold a lease (other tests' sessions do not count)."""
    import redis

    key = f"{settings.AURA_REDIS_KEY_PREFIX}:sessions:{schema_name}"
    scores = redis.Redis.from_url(settings.REDIS_URL).zmscore(key, session_ids)
    now = time.time()
    return [sid for sid, score in zip(session_ids, scores, strict=True) if score and score > now]


async def converse(server: Any, key: str, number: int, session_ids: list[str]) -> None:
    client = await Client.open(server, key)
    session_ids.append(str(client.created["session_id"]))
    try:
        for turn in range(TURNS):
            await client.turn(f"item_d{number}_{turn}")
    finally:
        await client.close()


async def test_no_session_stays_leased_after_its_client_leaves(
    tenant_schemas, org_alpha, simulator
):
    await configure_agent(
        org_alpha,
        turn_detection=None,
        llm_routes=[
            {"provider": "openai_compatible", "model": "say:Sure.", "base_url": simulator.base_url}
        ],
    )
    key = await issue_key(org_alpha)
    schema_name = org_alpha.schema_name
    with run_daphne(database_name=database_name(), extra_env=SERVER_ENV) as server:
        # A live session is seen leased: what the wait below reads does tell.
        witness = await Client.open(server, key)
        witness_id = str(witness.created["session_id"])
        assert still_leased(schema_name, [witness_id]) == [witness_id]
        await witness.close()
        gate = asyncio.Semaphore(CONCURRENCY)
        session_ids: list[str] = [witness_id]

        async def one(number: int) -> None:
            async with gate:
                await converse(server, key, number, session_ids)

        await asyncio.gather(*(one(number) for number in range(CONVERSATIONS)))
        assert len(session_ids) == CONVERSATIONS + 1
        # Every client has closed its socket (handshake done): each session must now close
        # and give its lease back, long before any lease could run out by itself.
        for _ in range(int(RELEASE_DEADLINE_S / POLL_S)):
            if not (leased := still_leased(schema_name, session_ids)):
                break
            await asyncio.sleep(POLL_S)
        assert leased == [], (
            f"{len(leased)} sessions still leased {RELEASE_DEADLINE_S} s after their clients left"
        )
