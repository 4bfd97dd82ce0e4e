"""A dropped session continues on another daphne process, with its configuration and history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.server import DaphneProcess, run_daphne
from voice.tests.realtime.test_socket_boundaries import next_event, url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def second_daphne(daphne_server: DaphneProcess) -> Iterator[DaphneProcess]:
    from django.db import connection

    with run_daphne(database_name=connection.settings_dict["NAME"]) as server:
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
