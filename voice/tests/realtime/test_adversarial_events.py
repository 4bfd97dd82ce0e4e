"""Every realtime client event and connection parameter that names something, aimed elsewhere.

Over a real socket to a real daphne: sessions of another organization, of the same
organization, and of a publishable key name alpha's session's item ids, response id, agent and
resume token. Each attempt gets an `error` event (or is a documented no-op), the attacker's
socket lives on (a following `session.update` is answered), and alpha's session is unchanged:
its item is still there with its text, its response finishes as it would have, and it can
still be resumed.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from aura_project.tests.attacks import attack
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.socket_client import send_user_text
from voice.tests.realtime.test_socket_boundaries import next_event, url

pytestmark = [
    pytest.mark.adversarial,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

ALPHA_TEXT = "alpha's private item text"
ORIGIN = "https://shop.example"


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def by_header(key: str) -> dict[str, Any]:
    return {"additional_headers": headers(key)}


def from_page(key: str) -> dict[str, Any]:
    """How a browser presents a publishable key: a subprotocol, from the key's origin."""
    return {"subprotocols": [f"openai-insecure-api-key.{key}"], "origin": Origin(ORIGIN)}


async def session(server: Any, credentials: dict[str, Any], query: str = "aura=1") -> Any:
    """An open socket past `session.created`."""
    socket = await connect(url(server, query), max_size=None, **credentials)
    await next_event(socket, "session.created")
    return socket


async def still_alive(socket: Any, marker: str) -> None:
    """The socket still answers: a setting any client may change (a publishable key may not
    change instructions) is applied and echoed."""
    update = {"type": "realtime", "output_modalities": ["text"]}
    await socket.send(json.dumps({"type": "session.update", "event_id": marker, "session": update}))
    updated = await next_event(socket, "session.updated")
    assert updated["session"]["output_modalities"] == ["text"]


async def refused_with_error(socket: Any, event: dict[str, Any]) -> dict[str, Any]:
    await socket.send(json.dumps(event))
    error = await next_event(socket, "error")
    assert_conforms(error)
    return error


async def add_text_item(socket: Any, text: str) -> str:
    await send_user_text(socket, text)
    return str((await next_event(socket, "conversation.item.added"))["item"]["id"])


async def retrieved_text(socket: Any, item_id: str) -> str:
    await socket.send(json.dumps({"type": "conversation.item.retrieve", "item_id": item_id}))
    item = (await next_event(socket, "conversation.item.retrieved"))["item"]
    return "".join(part.get("text") or "" for part in item["content"])


def item_attacks(item_id: str, response_id: str) -> list[dict[str, Any]]:
    """Every client event that names an item or a response, aimed at alpha's."""
    return [
        {"type": "conversation.item.retrieve", "item_id": item_id},
        {"type": "conversation.item.delete", "item_id": item_id},
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 0,
        },
        {"type": "response.cancel", "response_id": response_id},
        {"type": "response.cancel"},
    ]


async def test_no_other_session_reaches_alphas_items_or_response(
    daphne_server, org_alpha, org_beta, simulator
):
    # Alpha's answer is slow to start, so it is in progress while the others try to cancel it.
    route = {"provider": "openai_compatible", "base_url": simulator.base_url}
    await configure_agent(
        org_alpha,
        turn_detection=None,
        llm_routes=[{**route, "model": "slow-first-token:2500+say:Alpha answer."}],
    )
    await configure_agent(org_beta, turn_detection=None)
    alpha_key = await issue_key(org_alpha)
    attackers = {
        "beta's secret key": by_header(await issue_key(org_beta)),
        "alpha's other session": by_header(await issue_key(org_alpha)),
        "alpha's publishable key": from_page(
            await issue_key(org_alpha, kind="pk", allowed_origins=[ORIGIN])
        ),
    }
    alpha = await session(daphne_server, by_header(alpha_key), "")
    item_id = await add_text_item(alpha, ALPHA_TEXT)
    await alpha.send(
        json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
    )
    response_id = (await next_event(alpha, "response.created"))["response"]["id"]

    tried = 0
    for name, credentials in attackers.items():
        async with await session(daphne_server, credentials, "") as attacker:
            for event in item_attacks(item_id, response_id):
                error = await refused_with_error(attacker, event)
                assert error["error"]["code"] in (
                    "invalid_request",
                    "response_cancel_not_active",
                ), (name, event, error)
                tried += 1
            # A same-named item in the attacker's own session is the attacker's own business.
            await attacker.send(
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "previous_item_id": item_id,
                        "item": {
                            "id": item_id,
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": f"{name} was here"}],
                        },
                    }
                )
            )
            # The widget's playback report for an item it does not have is ignored.
            await attacker.send(
                json.dumps({"type": "aura.playback.position", "item_id": item_id, "played_ms": 1e9})
            )
            tried += 2
            await still_alive(attacker, f"{name} still here")

    done = await next_event(alpha, "response.done", timeout_s=60)
    assert done["response"]["status"] == "completed"
    assert done["response"]["id"] == response_id
    assert await retrieved_text(alpha, item_id) == ALPHA_TEXT
    await alpha.close()
    attack("realtime", tried)


async def test_another_key_cannot_resume_alphas_session(daphne_server, org_alpha, org_beta):
    await configure_agent(org_alpha, turn_detection=None)
    await configure_agent(org_beta, turn_detection=None)
    alpha_key = await issue_key(org_alpha)
    async with await session(daphne_server, by_header(alpha_key)) as alpha:
        created = await next_event(alpha, "aura.session.created")
        await add_text_item(alpha, ALPHA_TEXT)
    token = created["resume_token"]
    # Tokens are random values with a record in Redis: one of the same shape is a guess.
    guessed = secrets.token_urlsafe(len(token) * 3 // 4)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    beta_key = await issue_key(org_beta)
    beta_pk = await issue_key(org_beta, kind="pk", allowed_origins=[ORIGIN])
    attempts = [
        ("beta's secret key", by_header(beta_key), token),
        ("beta's publishable key", from_page(beta_pk), token),
        ("beta, a guessed token", by_header(beta_key), guessed),
        ("alpha, the session id as a token", by_header(alpha_key), created["session_id"]),
        ("alpha, tampered token", by_header(alpha_key), tampered),
        ("alpha, garbage token", by_header(alpha_key), "x" * 150),
    ]
    for name, credentials, resume in attempts:
        async with connect(url(daphne_server, f"aura=1&resume={resume}"), **credentials) as s:
            error = await next_event(s)
            with pytest.raises(ConnectionClosed) as closed:
                await s.recv()
        assert error["error"]["code"] == "resume_failed", name
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4400, name
    attack("realtime", len(attempts))

    # None of it used up or changed alpha's session: alpha resumes it with its history.
    async with connect(
        url(daphne_server, f"aura=1&resume={token}"), additional_headers=headers(alpha_key)
    ) as resumed:
        await next_event(resumed, "session.created")
        assert (await next_event(resumed, "aura.session.created"))["resumed"] is True
        restored = (await next_event(resumed, "conversation.item.added"))["item"]
    assert restored["content"][0]["text"] == ALPHA_TEXT


async def test_another_organizations_agent_cannot_be_named(daphne_server, org_alpha, org_beta):
    from voice.models import Agent

    def create_alpha_agent() -> None:
        with schema_context(org_alpha.schema_name):
            Agent.objects.get_or_create(name="Alpha only agent")

    await sync_to_async(create_alpha_agent)()
    beta_key = await issue_key(org_beta)
    async with connect(
        url(daphne_server, "agent=Alpha+only+agent"), additional_headers=headers(beta_key)
    ) as socket:
        error = await next_event(socket)
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    attack("realtime")
    assert error["error"]["code"] == "unknown_agent"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


@pytest.mark.parametrize(
    ("credential", "close_code"),
    [
        ("revoked", 4001),
        ("expired", 4001),
        ("forged", 4001),
        ("unknown client secret", 4001),
        ("publishable key without its origin", 4003),
        ("key without the realtime scope", 4003),
        ("platform key", 4003),
        ("suspended organization", 4003),
    ],
)
async def test_a_wrong_credential_opens_no_session(
    daphne_server, org_alpha, credential, close_code
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.services import (
        api_key_create,
        api_key_revoke,
        organization_set_status,
        platform_ensure_public_tenant,
    )

    def make() -> str:
        if credential == "revoked":
            issued = api_key_create(organization=org_alpha)
            api_key_revoke(api_key=issued.api_key)
            return issued.plaintext
        if credential == "expired":
            past = timezone.now() - timedelta(seconds=1)
            return api_key_create(organization=org_alpha, expires_at=past).plaintext
        if credential == "forged":
            return api_key_create(organization=org_alpha).api_key.prefix + "_" + "A" * 43
        if credential == "unknown client secret":
            return "ek_" + "A" * 43
        if credential == "publishable key without its origin":
            return api_key_create(
                organization=org_alpha, kind="pk", allowed_origins=[ORIGIN]
            ).plaintext
        if credential == "key without the realtime scope":
            return api_key_create(organization=org_alpha, scopes=["agents"]).plaintext
        if credential == "platform key":
            platform = platform_ensure_public_tenant(domains=("localhost",))
            return api_key_create(organization=platform, scopes=["staff", "realtime"]).plaintext
        organization_set_status(organization=org_alpha, status="suspended")
        return api_key_create(organization=org_alpha).plaintext

    key = await sync_to_async(make)()
    try:
        async with connect(url(daphne_server), additional_headers=headers(key)) as socket:
            error = await next_event(socket)
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
    finally:
        await sync_to_async(organization_set_status)(organization=org_alpha, status="active")
    attack("realtime")
    assert error["type"] == "error"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == close_code, error
