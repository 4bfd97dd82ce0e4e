"""The limits a realtime session lives under: per-organization session cap, idle timeout and
maximum length, each ending with an `error` event and a documented close code.

A daphne process of its own runs with tight limits, so the tests take seconds. The organization
is one that no other test opens sessions for: the cap counts an organization's live sessions
on every server, and other tests' sessions may still be closing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

SESSION_CAP = 2
IDLE_S = 2
MAX_S = 6


@pytest.fixture(scope="module")
def strict_server(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    limits = {
        "AURA_FREE_CONCURRENT_SESSIONS": str(SESSION_CAP),
        "AURA_SESSION_IDLE_TIMEOUT_SECONDS": str(IDLE_S),
        "AURA_SESSION_MAX_SECONDS": str(MAX_S),
        # Nothing here talks: the models need not load.
        "AURA_WARM_UP_LOCAL_MODELS": "false",
    }
    with run_daphne(database_name=connection.settings_dict["NAME"], extra_env=limits) as server:
        yield server


async def open_session(server: DaphneProcess, key: str) -> ClientConnection:
    socket = await connect(
        f"{server.websocket_base_url}/realtime",
        additional_headers={"Authorization": f"Bearer {key}"},
    )
    assert (await next_event(socket))["type"] == "session.created"
    return socket


async def next_event(socket: ClientConnection, *, timeout_s: float = 15.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        return dict(json.loads(await socket.recv()))


async def closing_error(socket: ClientConnection, *, timeout_s: float) -> tuple[str, int]:
    """The code of the error event that ends the session, and the close code that follows."""
    async with asyncio.timeout(timeout_s):
        while (event := await next_event(socket, timeout_s=timeout_s))["type"] != "error":
            pass
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return event["error"]["code"], closed.value.rcvd.code


async def test_sessions_beyond_the_plan_cap_are_refused_until_one_ends(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    key = await issue_key(org_gamma)
    held = [await open_session(strict_server, key) for _ in range(SESSION_CAP)]
    try:
        async with connect(
            f"{strict_server.websocket_base_url}/realtime",
            additional_headers={"Authorization": f"Bearer {key}"},
        ) as refused:
            assert await closing_error(refused, timeout_s=10) == ("session_limit_reached", 4029)
        await held.pop().close()
        held.append(await open_session(strict_server, key))  # the freed slot is usable again
    finally:
        for socket in held:
            await socket.close()


async def test_a_silent_client_is_disconnected_after_the_idle_timeout(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    key = await issue_key(org_gamma)
    # The server's idle clock starts when it accepts the socket, before the client sees
    # session.created: timing from before the connect is the bound that always holds.
    started = asyncio.get_running_loop().time()
    socket = await open_session(strict_server, key)
    assert await closing_error(socket, timeout_s=IDLE_S + 5) == ("idle_timeout", 4008)
    assert asyncio.get_running_loop().time() - started >= IDLE_S


async def test_even_a_busy_session_ends_at_the_maximum_length(
    strict_server: DaphneProcess, org_gamma: Any
) -> None:
    await configure_agent(org_gamma, turn_detection=None)
    socket = await open_session(strict_server, await issue_key(org_gamma))

    async def keep_busy() -> None:
        while True:
            update = {"type": "session.update", "session": {"instructions": "Still here."}}
            await socket.send(json.dumps(update))
            await asyncio.sleep(0.5)

    busy = asyncio.create_task(keep_busy())
    try:
        assert await closing_error(socket, timeout_s=MAX_S + 5) == ("session_expired", 4010)
    finally:
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)
