"""Sessions ended from outside, over a real socket: by an operator, by revoking the key that
opened them (or minted their client secret), by suspending their organization.

The services in tenants/services.py send the end after their transaction commits; the test
process is the sender, as an admin action or REST call on another process would be.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tenants.selectors import resolve_api_key
from tenants.services import (
    api_key_create,
    api_key_revoke,
    organization_resume,
    organization_suspend,
)
from voice.realtime.client_secrets import client_secret_mint
from voice.tests.realtime.conftest import configure_agent
from voice.tests.realtime.test_socket_boundaries import next_event, url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# Generous for a busy 2-core machine; before, such sessions lived on for up to an hour.
ENDED_WITHIN_S = 10.0


async def open_session(server: Any, key: str) -> ClientConnection:
    socket = await connect(
        url(server, "aura=1"), additional_headers={"Authorization": f"Bearer {key}"}
    )
    await next_event(socket, "session.created")
    await next_event(socket, "aura.session.created")
    return socket


async def drain(socket: ClientConnection) -> None:
    while True:
        await socket.recv()


async def ended(socket: ClientConnection) -> tuple[str, int]:
    """The code of the error that ends the session and the close code, within the deadline."""
    error = await next_event(socket, "error", timeout_s=ENDED_WITHIN_S)
    with pytest.raises(ConnectionClosed) as closed:
        await drain(socket)
    assert closed.value.rcvd is not None
    return error["error"]["code"], closed.value.rcvd.code


async def still_live(socket: ClientConnection) -> bool:
    await socket.send(json.dumps({"type": "session.update", "session": {}}))
    kind: str = (await next_event(socket, "session.updated"))["type"]
    return kind == "session.updated"


async def test_revoking_a_key_ends_its_sessions_within_seconds_and_no_others(
    daphne_server, org_alpha
):
    await configure_agent(org_alpha, turn_detection=None)
    revoked = await sync_to_async(api_key_create)(organization=org_alpha)
    kept = await sync_to_async(api_key_create)(organization=org_alpha)
    victim = await open_session(daphne_server, revoked.plaintext)
    bystander = await open_session(daphne_server, kept.plaintext)
    try:
        await sync_to_async(api_key_revoke)(api_key=revoked.api_key)
        assert await ended(victim) == ("api_key_revoked", 4001)
        assert await still_live(bystander)
    finally:
        await victim.close()
        await bystander.close()


async def test_a_client_secret_dies_with_the_key_that_minted_it(daphne_server, org_alpha):
    await configure_agent(org_alpha, turn_detection=None)
    issuer = await sync_to_async(api_key_create)(organization=org_alpha)
    resolved = await sync_to_async(resolve_api_key)(issuer.plaintext)
    secret = await client_secret_mint(issuer=resolved, ttl_s=600, session=None)
    browser = await open_session(daphne_server, secret.value)
    try:
        await sync_to_async(api_key_revoke)(api_key=issuer.api_key)
        assert await ended(browser) == ("api_key_revoked", 4001)
    finally:
        await browser.close()
    # The secret itself is refused from now on, though its own lifetime is not over.
    async with connect(
        url(daphne_server), additional_headers={"Authorization": f"Bearer {secret.value}"}
    ) as again:
        error = await next_event(again, "error")
        with pytest.raises(ConnectionClosed) as closed:
            await drain(again)
    assert error["error"]["type"] == "authentication_error"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001


async def test_suspending_an_organization_ends_its_sessions_within_seconds(
    daphne_server, org_gamma, org_beta
):
    await configure_agent(org_gamma, turn_detection=None)
    await configure_agent(org_beta, turn_detection=None)
    suspended = await open_session(
        daphne_server, (await sync_to_async(api_key_create)(organization=org_gamma)).plaintext
    )
    other = await open_session(
        daphne_server, (await sync_to_async(api_key_create)(organization=org_beta)).plaintext
    )
    try:
        await sync_to_async(organization_suspend)(organization=org_gamma)
        assert await ended(suspended) == ("organization_suspended", 4001)
        assert await still_live(other)
    finally:
        await sync_to_async(organization_resume)(organization=org_gamma)
        await suspended.close()
        await other.close()
