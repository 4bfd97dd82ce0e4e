"""What /v1/realtime does with refused credentials, hostile frames and other tenants' sessions."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from conversations.models import Conversation
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent, issue_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def url(server: Any, query: str = "") -> str:
    return f"{server.websocket_base_url}/realtime{'?' + query if query else ''}"


async def next_event(
    socket: Any, kind: str | None = None, *, timeout_s: float = 20.0
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            event: dict[str, Any] = json.loads(await socket.recv())
            if kind is None or event["type"] == kind:
                return event


async def refused(server: Any, **connect_options: Any) -> tuple[dict[str, Any], int]:
    async with connect(url(server), **connect_options) as socket:
        error = await next_event(socket)
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


async def test_a_connection_without_a_key_is_refused_with_4001(daphne_server, org_alpha):
    error, code = await refused(daphne_server)
    assert_conforms(error)
    assert (error["error"]["code"], code) == ("missing_api_key", 4001)


async def test_a_wrong_key_is_refused_without_revealing_anything(daphne_server, org_alpha):
    error, code = await refused(
        daphne_server, additional_headers={"Authorization": "Bearer sk_AAAAAAAA_nope"}
    )
    assert code == 4001
    assert error["error"]["message"] == "Invalid API key."


async def test_a_publishable_key_from_another_origin_is_refused_with_4003(daphne_server, org_alpha):
    key = await issue_key(org_alpha, kind="pk", allowed_origins=["http://alpha.localhost:8000"])
    error, code = await refused(
        daphne_server,
        subprotocols=[f"openai-insecure-api-key.{key}"],
        origin="https://evil.example",
    )
    assert (error["error"]["code"], code) == ("permission_denied", 4003)


async def test_a_publishable_key_from_its_origin_is_served(daphne_server, org_alpha):
    key = await issue_key(org_alpha, kind="pk", allowed_origins=["http://alpha.localhost:8000"])
    async with connect(
        url(daphne_server),
        subprotocols=[Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{key}")],
        origin=Origin("http://alpha.localhost:8000"),
    ) as socket:
        assert socket.subprotocol == "realtime"
        assert (await next_event(socket))["type"] == "session.created"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ('["a list"]', "invalid_event"),
        ('{"type": "session.hack"}', "unknown_event"),
        ('{"type": "input_audio_buffer.append", "audio": "***not base64***"}', "invalid_base64"),
        (
            '{"type": "input_audio_buffer.append", "audio": "'
            + base64.b64encode(b"\x01\x02\x03").decode()
            + '"}',
            "invalid_audio",
        ),
        ('{"type": "conversation.item.truncate", "item_id": 5}', "invalid_event"),
        (
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"audio": {"input": {"format": {"type": "audio/flac"}}}},
                }
            ),
            "invalid_request",
        ),
        (
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": "call_nope", "output": "x"},
                }
            ),
            "invalid_request",
        ),
        (
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "NUL \u0000 here"}],
                    },
                }
            ),
            "invalid_value",
        ),
        (
            json.dumps({"type": "session.update", "session": {"instructions": "a\u0000b"}}),
            "invalid_value",
        ),
        (
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "id": "i" * 65,
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "hello"}],
                    },
                }
            ),
            "invalid_value",
        ),
        ('{"type": "response.cancel"}', "response_cancel_not_active"),
        # Found by the fuzz: a lone surrogate failed the model request (and counted against
        # the route's health for every session on it).
        (
            '{"type": "session.update", "session": {"instructions": "x\\ud800"}}',
            "invalid_unicode",
        ),
        ('{"type": "input_audio_buffer.commit"}', "input_audio_buffer_commit_empty"),
        ('{"type": "x", "pad": "' + "a" * (1024 * 1024) + '"}', "message_too_large"),
    ],
)
async def test_bad_frames_get_an_error_event_and_the_session_lives_on(
    daphne_server, org_alpha, frame, code
):
    await configure_agent(org_alpha, turn_detection=None)
    key = await issue_key(org_alpha)
    async with connect(
        url(daphne_server), additional_headers={"Authorization": f"Bearer {key}"}, max_size=None
    ) as socket:
        await next_event(socket, "session.created")
        await socket.send(frame)
        error = await next_event(socket, "error")
        assert_conforms(error)
        assert error["error"]["code"] == code, error
        # Still alive: a valid event is answered.
        await socket.send(
            json.dumps({"type": "session.update", "session": {"instructions": "Still here?"}})
        )
        assert (await next_event(socket, "session.updated"))["session"][
            "instructions"
        ] == "Still here?"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "conversation.item.delete", "item_id": 5, "event_id": "evt_shape"},
        {"type": "aura.playback.position", "event_id": "evt_shape"},
        {"type": "session.hack", "event_id": "evt_shape"},
    ],
)
async def test_a_frame_refused_for_its_shape_has_its_event_id_echoed(
    daphne_server, org_alpha, frame
):
    key = await issue_key(org_alpha)
    async with connect(
        url(daphne_server, "aura=1"), additional_headers={"Authorization": f"Bearer {key}"}
    ) as socket:
        await next_event(socket, "session.created")
        await socket.send(json.dumps(frame))
        error = await next_event(socket, "error")
        assert_conforms(error)
        assert error["error"]["event_id"] == "evt_shape", error


async def test_audio_faster_than_four_times_real_time_is_refused(daphne_server, org_alpha):
    await configure_agent(org_alpha, turn_detection=None)
    key = await issue_key(org_alpha)
    one_second = base64.b64encode(b"\x00\x00" * 24_000).decode()
    async with connect(
        url(daphne_server), additional_headers={"Authorization": f"Bearer {key}"}
    ) as socket:
        await next_event(socket, "session.created")
        for _ in range(8):
            await socket.send(
                json.dumps({"type": "input_audio_buffer.append", "audio": one_second})
            )
        error = await next_event(socket, "error")
    assert error["error"]["code"] == "audio_rate_exceeded"


async def test_binary_frames_need_the_extension(daphne_server, org_alpha):
    key = await issue_key(org_alpha)
    async with connect(
        url(daphne_server), additional_headers={"Authorization": f"Bearer {key}"}
    ) as socket:
        await next_event(socket, "session.created")
        await socket.send(b"\x00\x00" * 480)
        assert (await next_event(socket, "error"))["error"]["code"] == "binary_not_enabled"


async def test_a_conversation_is_stored_in_its_own_organization_only(
    daphne_server, org_alpha, org_beta
):
    await configure_agent(org_alpha, turn_detection=None)
    key = await issue_key(org_alpha)
    async with connect(
        url(daphne_server, "aura=1&user=tenant-probe"),
        additional_headers={"Authorization": f"Bearer {key}"},
    ) as socket:
        await next_event(socket, "session.created")
        conversation_id = (await next_event(socket, "aura.session.created"))["conversation_id"]

    def exists_in(organization: Any) -> bool:
        with schema_context(organization.schema_name):
            return Conversation.objects.filter(pk=conversation_id).exists()

    assert await sync_to_async(exists_in)(org_alpha)
    assert not await sync_to_async(exists_in)(org_beta)


async def test_another_organization_cannot_resume_a_session(daphne_server, org_alpha, org_beta):
    alpha_key, beta_key = await issue_key(org_alpha), await issue_key(org_beta)
    async with connect(
        url(daphne_server, "aura=1"), additional_headers={"Authorization": f"Bearer {alpha_key}"}
    ) as socket:
        token = (await next_event(socket, "aura.session.created"))["resume_token"]
    async with connect(
        url(daphne_server, f"aura=1&resume={token}"),
        additional_headers={"Authorization": f"Bearer {beta_key}"},
    ) as socket:
        error = await next_event(socket)
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert error["error"]["code"] == "resume_failed"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
