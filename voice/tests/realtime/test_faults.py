"""Fault injection against real daphne processes: what a client heard answered is never lost.

Run alone with `pytest -m faults`. Kill points are random but seeded (AURA_FAULTS_SEED), so a
failing run can be replayed. Figures are printed (`-s`) and kept in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django_tenants.utils import schema_context
from websockets.exceptions import ConnectionClosed

from conversations.models import Message
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.faults import FAULT_ENV, Client, ServerPool, figure, rss_mb
from voice.tests.realtime.server import DaphneProcess, run_daphne

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SEED = int(os.environ.get("AURA_FAULTS_SEED", "12"))
KILL_CYCLES = int(os.environ.get("AURA_FAULTS_KILLS", "22"))


def database_name() -> str:
    from django.db import connection

    return str(connection.settings_dict["NAME"])


async def text_agent(organization: Any, simulator: Any, *routes: str) -> None:
    """The default agent answers in text through the simulator's routes, in this order."""
    await configure_agent(
        organization,
        turn_detection=None,
        llm_routes=[
            {"provider": "openai_compatible", "model": model, "base_url": simulator.base_url}
            for model in routes
        ],
    )


def stored_counts(organization: Any, conversation_id: str) -> dict[str, int]:
    """How many times each item id is stored in the conversation."""
    with schema_context(organization.schema_name):
        ids = Message.objects.filter(conversation_id=conversation_id).values_list(
            "item_id", flat=True
        )
        counts: dict[str, int] = {}
        for item_id in ids:
            counts[item_id] = counts.get(item_id, 0) + 1
    return counts


async def assert_stored_once(
    organization: Any, conversation_id: str, answered: list[tuple[str, str]]
) -> None:
    """Every answered turn's two messages are stored, each exactly once (waiting a little for
    the writers of the sessions that closed)."""
    expected = {item for turn in answered for item in turn}
    for _ in range(100):
        counts = await sync_to_async(stored_counts)(organization, conversation_id)
        if expected <= set(counts):
            break
        await asyncio.sleep(0.1)
    missing = expected - set(counts)
    assert not missing, f"answered but not stored: {sorted(missing)}"
    assert all(count == 1 for count in counts.values()), counts


# --- SIGKILL mid-turn and mid-response ------------------------------------------------------


@pytest.fixture(scope="module")
def kill_pool(django_db_setup: None, tenant_schemas: None) -> Iterator[ServerPool]:
    pool = ServerPool(database_name(), size=4, env={})
    try:
        yield pool
    finally:
        pool.close()


async def test_answered_turns_survive_sigkill_and_sessions_resume_elsewhere(
    kill_pool, org_alpha, simulator
):
    # Tokens 30 ms apart: a kill lands before, during or after the answer.
    await text_agent(org_alpha, simulator, "inter-token:30")
    key = await issue_key(org_alpha)
    rng = random.Random(SEED)
    resumed = sessions = 0
    answered_total = 0
    started = time.monotonic()
    for cycle in range(KILL_CYCLES):
        victim = await kill_pool.ready(cycle)
        client = await Client.open(victim, key)
        sessions += 1
        conversation_id = client.created["conversation_id"]
        for turn in range(rng.randint(0, 2)):
            await client.turn(f"item_k{SEED}_{cycle}_{turn}")
        # The last turn is cut by the kill, at a random point of it (or just after it).
        await client.ask(f"item_k{SEED}_{cycle}_cut")
        kill_after_s = rng.uniform(0.0, 0.45)
        with pytest.raises(TimeoutError):
            await client.until("never", timeout_s=kill_after_s)
        kill_pool.kill(victim)
        await client.drain(timeout_s=5)

        survivor = await kill_pool.ready(cycle + 1)
        again = await Client.open(survivor, key, f"aura=1&resume={client.created['resume_token']}")
        assert again.created["resumed"] is True
        assert again.created["conversation_id"] == conversation_id
        resumed += 1
        again.heard.answered = list(client.heard.answered)
        await again.turn(f"item_k{SEED}_{cycle}_after")
        await again.close()
        answered_total += len(again.heard.answered)
        await assert_stored_once(org_alpha, conversation_id, again.heard.answered)

    figure(
        f"kills survived: {kill_pool.kills}; sessions resumed: {resumed}/{sessions}; "
        f"answered turns: {answered_total}, lost: 0 (seed {SEED}, "
        f"{time.monotonic() - started:.0f} s)"
    )
    assert kill_pool.kills == KILL_CYCLES


# --- Redis connections killed under live sessions --------------------------------------------


@pytest.fixture(scope="module")
def named_server(
    django_db_setup: None, tenant_schemas: None
) -> Iterator[tuple[DaphneProcess, str, str]]:
    """A server whose Redis and PostgreSQL connections carry names only it uses."""
    name = "aura-fault-" + uuid.uuid4().hex[:8]
    env = {
        **FAULT_ENV,
        "AURA_REDIS_CLIENT_NAME": name,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name()}"
        f"?application_name={name}",
    }
    with run_daphne(database_name=database_name(), extra_env=env) as server:
        yield server, name, name


def kill_redis_clients(name: str) -> int:
    client = redis.Redis.from_url(settings.REDIS_URL)
    killed = 0
    for entry in client.client_list():
        if entry.get("name") == name:
            killed += int(client.client_kill_filter(_id=entry["id"]))
    return killed


def kill_database_backends(name: str) -> int:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = %s",
            (name, database_name()),
        ).fetchall()
    return len(rows)


async def keep_killing(kill: Any, name: str, period_s: float, tally: list[int]) -> None:
    while True:
        tally.append(await asyncio.to_thread(kill, name))
        await asyncio.sleep(period_s)


async def turns_under_fire(
    server: DaphneProcess, key: str, kill: Any, name: str, turns: int
) -> tuple[Client, int]:
    client = await Client.open(server, key)
    tally: list[int] = []
    killer = asyncio.create_task(keep_killing(kill, name, 0.05, tally))
    try:
        for turn in range(turns):
            await client.turn(f"item_{kill.__name__[:6]}_{uuid.uuid4().hex[:6]}_{turn}")
    finally:
        killer.cancel()
        await asyncio.gather(killer, return_exceptions=True)
    return client, sum(tally)


async def test_sessions_carry_on_when_their_redis_connections_are_killed(
    named_server, org_alpha, simulator
):
    server, redis_name, _ = named_server
    await text_agent(org_alpha, simulator, "say:Still here.")
    key = await issue_key(org_alpha)
    client, killed = await turns_under_fire(server, key, kill_redis_clients, redis_name, 8)
    token = client.created["resume_token"]
    await client.close()
    again = await Client.open(server, key, f"aura=1&resume={token}")
    await again.close()
    figure(f"redis connections killed: {killed}; turns answered: {len(client.heard.answered)}")
    assert killed > 0
    assert len(client.heard.answered) == 8
    await assert_stored_once(org_alpha, client.created["conversation_id"], client.heard.answered)


async def test_turns_are_stored_when_database_connections_die_mid_write(
    named_server, org_alpha, simulator
):
    server, _, pg_name = named_server
    await text_agent(org_alpha, simulator, "say:Noted.")
    key = await issue_key(org_alpha)
    client, killed = await turns_under_fire(server, key, kill_database_backends, pg_name, 8)
    await client.close()
    figure(f"database backends terminated: {killed}; turns: {len(client.heard.answered)}")
    assert len(client.heard.answered) == 8
    await assert_stored_once(org_alpha, client.created["conversation_id"], client.heard.answered)


# --- providers that fail mid-stream --------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    ["fail-500", "fail-429", "stop-after:0", "slow-first-token:20000"],
    ids=["500", "429", "reset-before-text", "hang"],
)
async def test_a_failing_provider_fails_over_within_the_first_token_budget(
    named_server, org_alpha, simulator, fault
):
    server, _, _ = named_server
    await text_agent(org_alpha, simulator, fault, "say:Backup speaking.")
    client = await Client.open(server, await issue_key(org_alpha))
    sent = time.monotonic()
    await client.ask("item_fault_" + uuid.uuid4().hex[:8])
    await client.until("response.output_text.delta", timeout_s=30)
    first_text_s = time.monotonic() - sent
    done = await client.until("response.done", timeout_s=30)
    await client.close()
    # The route's first-token budget is 2 s (hedging); a loaded machine gets 2 s more.
    assert first_text_s < 4.0, first_text_s
    assert done["response"]["status"] == "completed"
    assert "Backup speaking." in json.dumps(done["response"]["output"])
    await assert_stored_once(org_alpha, client.created["conversation_id"], client.heard.answered)


async def test_a_stream_that_stops_halfway_still_ends_the_turn_and_stores_it(
    named_server, org_alpha, simulator
):
    server, _, _ = named_server
    await text_agent(org_alpha, simulator, "stop-halfway", "say:Backup speaking.")
    client = await Client.open(server, await issue_key(org_alpha))
    user_item = "item_half_" + uuid.uuid4().hex[:8]
    await client.ask(user_item)
    done = await client.until("response.done", timeout_s=30)
    await client.close()
    assert done["response"]["status"] in ("completed", "failed")
    counts: dict[str, int] = {}
    for _ in range(50):
        counts = await sync_to_async(stored_counts)(org_alpha, client.created["conversation_id"])
        if user_item in counts:
            break
        await asyncio.sleep(0.1)
    assert counts.get(user_item) == 1


# --- a client that stops reading, a client that floods ------------------------------------


BOUNDED_ENV = {
    **FAULT_ENV,
    "AURA_REALTIME_MAX_UNSENT_BYTES": str(2 * 2**20),
    "AURA_REALTIME_EVENTS_PER_SECOND": "200",
    "AURA_REALTIME_EVENT_BURST": "500",
}


@pytest.fixture(scope="module")
def bounded_server(
    django_db_setup: None, tenant_schemas: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaphneProcess]:
    log = tmp_path_factory.mktemp("daphne") / "server.log"
    with run_daphne(database_name=database_name(), extra_env=BOUNDED_ENV, log=log) as server:
        yield server


@pytest.fixture(scope="module")
def bounded_uvicorn(
    django_db_setup: None, tenant_schemas: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaphneProcess]:
    """The same, served by uvicorn (whose `websocket.send` waits for the client: the bound
    must still decide, not the pump stalled behind a 64 KiB write buffer)."""
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with run_daphne(
        database_name=database_name(), extra_env=BOUNDED_ENV, server="uvicorn", log=log
    ) as server:
        yield server


@pytest.mark.parametrize("server_fixture", ["bounded_server", "bounded_uvicorn"])
async def test_a_client_that_stops_reading_is_closed_with_bounded_memory(
    server_fixture, request, org_alpha, simulator
):
    bounded_server = request.getfixturevalue(server_fixture)
    await text_agent(org_alpha, simulator, "say:Fine.")
    key = await issue_key(org_alpha)
    before_mb = rss_mb(bounded_server)
    # The client's library stops reading from the socket once 4 messages wait unread.
    client = await Client.open(bounded_server, key, max_queue=4)
    item = {
        "type": "conversation.item.create",
        "item": {
            "id": "item_big",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "z" * 30_000}],
        },
    }
    await client.socket.send(json.dumps(item))
    retrieve = json.dumps({"type": "conversation.item.retrieve", "item_id": "item_big"})
    peak_mb = before_mb
    closed = False
    # 30 kB answers to each request: 120 MB asked for, far past every buffer on the way.
    for _batch in range(40):
        try:
            for _ in range(100):
                await client.socket.send(retrieve)
        except ConnectionClosed:
            closed = True
            break
        peak_mb = max(peak_mb, rss_mb(bounded_server))
        await asyncio.sleep(0.5)  # within the event rate
    await client.drain(timeout_s=10)
    figure(
        f"not reading ({server_fixture}): RSS {before_mb:.0f} MB -> peak {peak_mb:.0f} MB; "
        f"closed={closed}"
    )
    assert closed or client.heard.close_code is not None
    assert peak_mb - before_mb < 64
    # The bound closed it (1008, voice/realtime/pump.py), not a keepalive or a failed send.
    assert bounded_server.log is not None
    log = bounded_server.log.read_text(errors="replace")
    assert f"left over {2 * 2**20} bytes unread; closing" in log
    assert "event pump" not in log
    fresh = await Client.open(bounded_server, key)  # the server serves on
    await fresh.close()


async def test_a_flood_of_huge_items_leaves_memory_and_the_snapshot_bounded(
    bounded_server, org_alpha, simulator
):
    from core.redis import redis_client
    from voice.realtime.resume import snapshot_key

    await text_agent(org_alpha, simulator, "say:Fine.")
    client = await Client.open(bounded_server, await issue_key(org_alpha))
    before_mb = rss_mb(bounded_server)
    codes: dict[str, int] = {}
    for index in range(50):
        text = ("w" if index % 2 else "v") * (900_000 if index < 25 else 30_000)
        await client.socket.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                }
            )
        )
        event = await client.next(30)
        while event["type"] not in ("error", "conversation.item.added"):
            event = await client.next(30)
        code = event["error"]["code"] if event["type"] == "error" else "added"
        codes[code] = codes.get(code, 0) + 1
    await client.turn("item_after_flood")
    snapshot_bytes = await redis_client().strlen(snapshot_key(client.created["session_id"]))
    growth_mb = rss_mb(bounded_server) - before_mb
    burst = [json.dumps({"type": "input_audio_buffer.clear"})] * 1000
    for frame in burst:
        await client.socket.send(frame)
    refused = 0
    for _ in range(600):
        event = await client.next(10)
        if event["type"] == "error" and event["error"]["code"] == "event_rate_exceeded":
            refused += 1
            break
    await client.close()
    figure(
        f"flood: {codes}; RSS growth {growth_mb:.0f} MB; snapshot {snapshot_bytes / 1024:.0f}"
        f" KiB; burst of 1000 events refused: {bool(refused)}"
    )
    assert codes.get("item_too_large") == 25
    assert codes.get("conversation_too_large", 0) > 0
    assert growth_mb < 64
    assert snapshot_bytes < 2**20
    assert refused
