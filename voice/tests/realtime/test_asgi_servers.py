"""What depends on the ASGI server behaves alike under daphne and uvicorn (server_link.py).

The limits both servers get come from one place (core/processes.py); the output bound and
SIGTERM's 1012 under each are in test_faults.py and test_shutdown.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from core.processes import ASGI_SERVERS, WEBSOCKET_MAX_MESSAGE_BYTES
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.faults import FAULT_ENV, Client
from voice.tests.realtime.server import DaphneProcess, run_daphne
from voice.tests.realtime.test_faults import text_agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


async def read_until_closed(socket: Any, *, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            await socket.recv()


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def server(request: Any, django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    """daphne, then uvicorn, serving the test database (no local models: none is used)."""
    from django.db import connection

    with run_daphne(
        database_name=connection.settings_dict["NAME"], extra_env=FAULT_ENV, server=request.param
    ) as process:
        yield process


# Three attempts a minute from one address, counted under a Redis prefix of this module's own
# (rate windows outlive a server by a minute, and every test connects from loopback).
CONNECTS_PER_MINUTE = 3


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def strict_server(
    request: Any, django_db_setup: None, tenant_schemas: None
) -> Iterator[DaphneProcess]:
    """A server that trusts no proxy and lets an address try to connect three times a minute."""
    from django.db import connection

    limits = {
        **FAULT_ENV,
        "AURA_REALTIME_CONNECTS_PER_ADDRESS": f"{CONNECTS_PER_MINUTE}/minute",
        "AURA_TRUSTED_PROXIES": "",
        "AURA_TEST_REDIS_KEY_PREFIX": f"aura-asgi-{secrets.token_hex(4)}",
    }
    with run_daphne(
        database_name=connection.settings_dict["NAME"], extra_env=limits, server=request.param
    ) as process:
        yield process


def url(server: Any, query: str = "") -> str:
    return f"{server.websocket_base_url}/realtime{'?' + query if query else ''}"


async def next_event(socket: Any, kind: str, *, timeout_s: float = 20.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            event: dict[str, Any] = json.loads(await socket.recv())
            if event["type"] == kind:
                return event


async def test_a_refusal_closes_with_its_code_and_reason(server, org_alpha):
    async with connect(url(server)) as socket:
        error = await next_event(socket, "error")
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert_conforms(error)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "missing_api_key")


async def test_an_event_over_one_mib_gets_message_too_large_and_the_session_lives_on(
    server, org_alpha
):
    await configure_agent(org_alpha, turn_detection=None)
    key = await issue_key(org_alpha)
    async with connect(
        url(server), additional_headers={"Authorization": f"Bearer {key}"}, max_size=None
    ) as socket:
        await next_event(socket, "session.created")
        await socket.send('{"type": "x", "pad": "' + "a" * (1024 * 1024) + '"}')
        assert (await next_event(socket, "error"))["error"]["code"] == "message_too_large"
        await socket.send(
            json.dumps({"type": "session.update", "session": {"instructions": "Still here?"}})
        )
        updated = await next_event(socket, "session.updated")
    assert updated["session"]["instructions"] == "Still here?"


async def test_a_message_over_the_servers_limit_closes_the_connection(server, org_alpha):
    key = await issue_key(org_alpha)
    async with connect(
        url(server), additional_headers={"Authorization": f"Bearer {key}"}, max_size=None
    ) as socket:
        await next_event(socket, "session.created")
        await socket.send("a" * (WEBSOCKET_MAX_MESSAGE_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await read_until_closed(socket)
    # The limit is set from one constant for both: uvicorn closes with 1009 (message too big),
    # daphne drops the connection without a close frame.
    rcvd = closed.value.rcvd
    assert (rcvd.code if rcvd else None) == {"daphne": None, "uvicorn": 1009}[server.server]


async def test_a_turn_is_answered(server, org_alpha, simulator):
    await text_agent(org_alpha, simulator, "say:Fine.")
    client = await Client.open(server, await issue_key(org_alpha))
    done = await client.turn("item_asgi_turn")
    await client.close()
    assert done["response"]["status"] == "completed"
    assert client.heard.answered == [("item_asgi_turn", done["response"]["output"][0]["id"])]


async def test_a_client_cannot_claim_another_address_in_x_forwarded_for(strict_server, org_alpha):
    # uvicorn believes X-Forwarded-For from loopback by default; AURA's flags turn that off,
    # and only AURA_TRUSTED_PROXIES (none here) decides whom to believe. Each attempt claims an
    # address of its own; all are counted against the one they really come from.
    codes = []
    for attempt in range(CONNECTS_PER_MINUTE + 1):
        headers = {"X-Forwarded-For": f"198.18.7.{attempt + 1}"}
        async with connect(url(strict_server), additional_headers=headers) as socket:
            codes.append((await next_event(socket, "error"))["error"]["code"])
    assert codes == ["missing_api_key"] * CONNECTS_PER_MINUTE + ["connect_rate_exceeded"], codes
