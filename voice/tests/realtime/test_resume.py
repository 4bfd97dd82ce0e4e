"""A dropped session continues on another daphne process, with its configuration and history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne
from voice.tests.realtime.test_socket_boundaries import next_event, url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def second_daphne(daphne_server: DaphneProcess) -> Iterator[DaphneProcess]:
    from django.db import connection

    with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
        yield server


SHORT_WINDOW_S = 3


@pytest.fixture(scope="module")
def short_window_daphne(django_db_setup: None, tenant_schemas: None) -> Iterator[DaphneProcess]:
    from django.db import connection

    with run_daphne(
        database_name=connection.settings_dict["NAME"],
        extra_env={
            "AURA_RESUME_WINDOW_SECONDS": str(SHORT_WINDOW_S),
            "AURA_WARM_UP_LOCAL_MODELS": "false",
        },
    ) as server:
        yield server


async def test_a_session_resumes_on_another_process(
    daphne_server, second_daphne, org_alpha, simulator
):
    await configure_agent(
        org_alpha,
        llm_routes=[
            {
                "provider": "openai_compatible",
                "model": "resume-test",
                "base_url": simulator.base_url,
            }
        ],
        turn_detection=None,
    )
    key = await issue_key(org_alpha)
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url(daphne_server, "aura=1"), additional_headers=headers) as first:
        await next_event(first, "session.created")
        created = await next_event(first, "aura.session.created")
        await first.send(
            json.dumps(
                {"type": "session.update", "session": {"instructions": "Speak like a pirate."}}
            )
        )
        await next_event(first, "session.updated")
        await first.send(
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "My name is Ada."}],
                    },
                }
            )
        )
        await first.send(json.dumps({"type": "response.create"}))
        await next_event(first, "response.done", timeout_s=60)

    async with connect(
        url(second_daphne, f"aura=1&resume={created['resume_token']}"), additional_headers=headers
    ) as second:
        session = (await next_event(second, "session.created"))["session"]
        resumed = await next_event(second, "aura.session.created")
        restored: list[dict[str, Any]] = []
        while len(restored) < 2:
            restored.append((await next_event(second, "conversation.item.added"))["item"])

    assert session["instructions"] == "Speak like a pirate."
    assert resumed["resumed"] is True
    assert resumed["session_id"] == created["session_id"]
    assert resumed["conversation_id"] == created["conversation_id"]
    assert restored[0]["role"] == "user"
    assert restored[0]["content"][0]["text"] == "My name is Ada."
    assert restored[1]["role"] == "assistant"


async def test_a_forged_resume_token_is_refused(daphne_server, org_alpha):
    key = await issue_key(org_alpha)
    async with connect(
        url(daphne_server, "aura=1&resume=forged.token"),
        additional_headers={"Authorization": f"Bearer {key}"},
    ) as socket:
        error = await next_event(socket)
    assert error["error"]["code"] == "resume_failed"


async def closing(socket: Any) -> tuple[dict[str, Any], int]:
    """The error event that ends a session, and the close code that follows."""
    error = await next_event(socket, "error")
    with pytest.raises(ConnectionClosed) as closed:
        await drain(socket)
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


async def drain(socket: Any) -> None:
    while True:
        await socket.recv()


async def live_sockets_of_key(key_id: int) -> int:
    """Sockets holding a live slot of this key (voice/realtime/limits.py keeps them)."""
    import time

    from core.redis import redis_client, redis_key

    return int(
        await redis_client().zcount(redis_key("key-sockets", str(key_id)), time.time(), "+inf")
    )


async def opened(socket: Any) -> dict[str, Any]:
    """`aura.session.created` of a socket that opened (or resumed) a session."""
    await next_event(socket, "session.created")
    return await next_event(socket, "aura.session.created")


async def test_a_resume_token_opens_one_socket_and_the_resumed_session_gets_a_fresh_one(
    daphne_server, second_daphne, org_alpha
):
    await configure_agent(org_alpha, turn_detection=None)
    headers = {"Authorization": f"Bearer {await issue_key(org_alpha)}"}
    async with connect(url(daphne_server, "aura=1"), additional_headers=headers) as first:
        created = await opened(first)
    token = created["resume_token"]
    async with connect(
        url(second_daphne, f"aura=1&resume={token}"), additional_headers=headers
    ) as second:
        resumed = await opened(second)
    async with connect(url(daphne_server, f"aura=1&resume={token}"), additional_headers=headers):
        pass
    async with connect(
        url(daphne_server, f"aura=1&resume={token}"), additional_headers=headers
    ) as again:
        error, code = await closing(again)
    assert resumed["session_id"] == created["session_id"]
    assert resumed["resume_token"] != token
    assert (error["error"]["code"], code) == ("resume_failed", 4400)
    # The fresh token works, once.
    async with connect(
        url(daphne_server, f"aura=1&resume={resumed['resume_token']}"),
        additional_headers=headers,
    ) as third:
        assert (await opened(third))["session_id"] == created["session_id"]


async def test_another_key_of_the_organization_can_neither_use_nor_burn_a_token(
    daphne_server, org_alpha
):
    await configure_agent(org_alpha, turn_detection=None)
    owner = {"Authorization": f"Bearer {await issue_key(org_alpha)}"}
    colleague = {"Authorization": f"Bearer {await issue_key(org_alpha)}"}
    async with connect(url(daphne_server, "aura=1"), additional_headers=owner) as first:
        token = (await opened(first))["resume_token"]
    async with connect(
        url(daphne_server, f"aura=1&resume={token}"), additional_headers=colleague
    ) as stranger:
        error, code = await closing(stranger)
    assert (error["error"]["code"], code) == ("resume_failed", 4400)
    async with connect(
        url(daphne_server, f"aura=1&resume={token}"), additional_headers=owner
    ) as rightful:
        assert (await opened(rightful))["resumed"] is True


async def test_a_resume_while_the_first_socket_lives_takes_the_session_over(
    daphne_server, second_daphne, org_alpha
):
    from asgiref.sync import sync_to_async

    from tenants.services import api_key_create

    await configure_agent(org_alpha, turn_detection=None)
    issued = await sync_to_async(api_key_create)(organization=org_alpha)
    headers = {"Authorization": f"Bearer {issued.plaintext}"}
    async with connect(url(daphne_server, "aura=1"), additional_headers=headers) as first:
        created = await opened(first)
        async with connect(
            url(second_daphne, f"aura=1&resume={created['resume_token']}"),
            additional_headers=headers,
        ) as second:
            resumed = await opened(second)
            error, code = await closing(first)
            # One session, one slot: the first socket's is the second's now.
            assert await live_sockets_of_key(issued.api_key.pk) == 1
            await second.send(json.dumps({"type": "session.update", "session": {}}))
            await next_event(second, "session.updated")
    assert resumed["session_id"] == created["session_id"]
    assert (error["error"]["code"], code) == ("session_resumed_elsewhere", 4409)


async def test_the_resume_window_counts_from_the_drop_not_from_the_start(
    short_window_daphne, org_alpha
):
    await configure_agent(org_alpha, turn_detection=None)
    headers = {"Authorization": f"Bearer {await issue_key(org_alpha)}"}
    async with connect(url(short_window_daphne, "aura=1"), additional_headers=headers) as first:
        token = (await opened(first))["resume_token"]
        await asyncio.sleep(SHORT_WINDOW_S * 2)  # the session outlives a window
    async with connect(
        url(short_window_daphne, f"aura=1&resume={token}"), additional_headers=headers
    ) as second:
        resumed = await opened(second)
    assert resumed["resumed"] is True

    await asyncio.sleep(SHORT_WINDOW_S + 2)  # dropped for longer than the window
    async with connect(
        url(short_window_daphne, f"aura=1&resume={resumed['resume_token']}"),
        additional_headers=headers,
    ) as late:
        error, code = await closing(late)
    assert (error["error"]["code"], code) == ("resume_failed", 4400)
