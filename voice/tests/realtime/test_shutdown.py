"""SIGTERM on a web process (voice/realtime/shutdown.py): every client is told to reconnect
elsewhere (close 1012), every answered turn is stored, and the process exits in its grace."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from core.processes import ASGI_SERVERS
from voice.tests.realtime.conftest import issue_key
from voice.tests.realtime.faults import FAULT_ENV, Client, figure
from voice.tests.realtime.server import run_daphne, start_daphne, stop_daphne, wait_until_ready
from voice.tests.realtime.test_faults import assert_stored_once, database_name, text_agent

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

GRACE_S = 10


@pytest.mark.parametrize("server", ASGI_SERVERS)
async def test_sigterm_sends_every_client_elsewhere_and_drains_its_writes(
    django_db_setup, tenant_schemas, org_alpha, simulator, server
):
    await text_agent(org_alpha, simulator, "inter-token:20")
    key = await issue_key(org_alpha)
    env = {**FAULT_ENV, "AURA_SHUTDOWN_GRACE_SECONDS": str(GRACE_S)}
    leaving = start_daphne(database_name=database_name(), extra_env=env, server=server)
    try:
        await asyncio.to_thread(wait_until_ready, leaving)
        clients = [await Client.open(leaving, key) for _ in range(3)]
        for index, client in enumerate(clients):
            await client.turn(f"item_term_{index}_{time.monotonic_ns()}")
        # One of them is in the middle of an answer when the signal comes.
        await clients[0].ask(f"item_term_cut_{time.monotonic_ns()}")
        signalled = time.monotonic()
        leaving.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(client.drain(timeout_s=GRACE_S + 5) for client in clients))
        exit_code = await asyncio.to_thread(leaving.process.wait, GRACE_S + 10)
        exited_after_s = time.monotonic() - signalled
    finally:
        stop_daphne(leaving)

    figure(
        f"SIGTERM with 3 live sessions ({server}): closed {[c.heard.close_code for c in clients]}, "
        f"exit {exit_code} after {exited_after_s:.1f} s"
    )
    assert [c.heard.close_code for c in clients] == [1012] * 3
    assert {c.heard.close_reason for c in clients} == {"service restart"}
    assert exited_after_s < GRACE_S + 5
    # The successor runs the same server: a rolling restart does not change servers.
    with run_daphne(database_name=database_name(), extra_env=FAULT_ENV, server=server) as successor:
        for client in clients:
            again = await Client.open(
                successor, key, f"aura=1&resume={client.created['resume_token']}"
            )
            assert again.created["resumed"] is True
            await again.close()
            await assert_stored_once(
                org_alpha, client.created["conversation_id"], client.heard.answered
            )
