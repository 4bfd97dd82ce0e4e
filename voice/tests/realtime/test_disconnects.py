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
}
# Well under the lease and under daphne's --application-close-timeout (30 s).
RELEASE_DEADLINE_S = 20
POLL_S = 0.2


def database_name() -> str:
    from django.db import connection

    return str(connection.settings_dict["NAME"])


def leased_sessions(schema_name: str) -> int:
    import redis

    key = f"{settings.AURA_REDIS_KEY_PREFIX}:sessions:{schema_name}"
    return int(redis.Redis.from_url(settings.REDIS_URL).zcount(key, time.time(), "+inf"))


async def converse(server: Any, key: str, number: int) -> None:
    client = await Client.open(server, key)
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
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(number: int) -> None:
            async with gate:
                await converse(server, key, number)

        await asyncio.gather(*(one(number) for number in range(CONVERSATIONS)))
        # Every client has closed its socket (handshake done): each session must now close
        # and give its lease back, long before any lease could run out by itself.
        for _ in range(int(RELEASE_DEADLINE_S / POLL_S)):
            if not (leased := leased_sessions(schema_name)):
                break
            await asyncio.sleep(POLL_S)
        assert leased == 0, (
            f"{leased} sessions still leased {RELEASE_DEADLINE_S} s after their clients left"
        )
