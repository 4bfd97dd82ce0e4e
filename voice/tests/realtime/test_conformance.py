"""The official openai SDK talks to AURA's /v1/realtime, served by a real daphne process.

Every server event is validated against the SDK's typed models; the audio is a real recording
streamed in real time; the local models (Whisper, Gemma, Piper) answer unless a test points
the agent's LLM at the OpenAI-protocol simulator to script tool calls.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
from openai import AsyncOpenAI

from tenants.db import in_schema
from voice.models import default_llm_routes
from voice.tests.realtime.conformance import assert_conforms
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.recordings import paced_chunks, recording_pcm, rms

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


async def events_until(
    connection: Any, stop: str, *, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Raw server events up to and including the first of type `stop`, each SDK-validated."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while True:
            event = json.loads(await connection.recv_bytes())
            assert_conforms(event)
            received.append(event)
            if event["type"] == stop:
                return received


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower())


async def ask_in_text(connection: Any, text: str) -> None:
    """Say `text` as a user text message and ask for a response."""
    await connection.conversation.item.create(
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    await connection.response.create()


def sdk_client(server: Any, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key, websocket_base_url=server.websocket_base_url, max_retries=0)


def simulator_route(simulator: Any, model: str) -> list[dict[str, Any]]:
    return [{"provider": "openai_compatible", "model": model, "base_url": simulator.base_url}]


async def test_a_spoken_turn_is_heard_transcribed_and_answered_in_voice(daphne_server, org_alpha):
    await configure_agent(org_alpha, llm_routes=default_llm_routes(), builtin_tools=[])
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        created = await events_until(connection, "session.created")
        assert created[-1]["session"]["audio"]["input"]["format"]["rate"] == 24000
        await connection.session.update(
            session={"type": "realtime", "instructions": "Answer briefly."}
        )
        await events_until(connection, "session.updated")

        async for chunk in paced_chunks(recording_pcm("english.wav")):
            await connection.input_audio_buffer.append(audio=chunk)
        received = await events_until(connection, "response.done", timeout_s=90)

    types = [event["type"] for event in received]
    for expected in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
    ):
        assert expected in types, f"no {expected} in {types}"
    assert types.index("input_audio_buffer.speech_stopped") < types.index("response.created")
    transcript = of_type(received, "conversation.item.input_audio_transcription.completed")[0][
        "transcript"
    ]
    assert words(transcript) in ("one two three", "1 2 3", "one two three "), transcript
    # GA's order: the transcript streams as deltas, then completes, then the item is final.
    user_item = of_type(received, "input_audio_buffer.committed")[0]["item_id"]
    deltas = [
        e
        for e in of_type(received, "conversation.item.input_audio_transcription.delta")
        if e["item_id"] == user_item
    ]
    assert "".join(e["delta"] for e in deltas) == transcript
    completed_at = types.index("conversation.item.input_audio_transcription.completed")
    assert all(received.index(e) < completed_at for e in deltas)
    item_done = [
        e for e in of_type(received, "conversation.item.done") if e["item"]["id"] == user_item
    ]
    assert item_done
    assert received.index(item_done[0]) > completed_at
    assert item_done[0]["item"]["content"][0]["transcript"] == transcript
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in of_type(received, "response.output_audio.delta")
    )
    assert rms(audio) > 100, "the reply audio is silent"
    assert of_type(received, "response.output_audio_transcript.done")[0]["transcript"].strip()
    done = received[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0
    answer = done["output"][0]["id"]
    answer_done = [
        e for e in of_type(received, "conversation.item.done") if e["item"]["id"] == answer
    ]
    assert answer_done, "the answer's conversation.item.done is missing"
    assert types.index("response.output_item.done") < received.index(answer_done[0])


async def test_an_idle_timeout_turns_silence_into_a_turn_the_agent_answers(
    daphne_server, org_alpha, simulator
):
    """`idle_timeout_ms`: no speech for that long makes the quiet a turn (GA's
    input_audio_buffer.timeout_triggered, then committed) and the agent speaks up."""
    await configure_agent(
        org_alpha,
        llm_routes=simulator_route(simulator, "nudge"),
        turn_detection={"type": "server_vad", "idle_timeout_ms": 1500},
    )
    await simulator.configure(reply="Are you still there?")
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        silence = base64.b64encode(bytes(4800)).decode()  # 100 ms at 24 kHz
        for _ in range(25):
            await connection.input_audio_buffer.append(audio=silence)
        received = await events_until(connection, "response.done", timeout_s=60)
    types = [event["type"] for event in received]
    timeout = of_type(received, "input_audio_buffer.timeout_triggered")[0]
    assert timeout["audio_end_ms"] - timeout["audio_start_ms"] >= 1500
    assert types.index("input_audio_buffer.timeout_triggered") < types.index(
        "input_audio_buffer.committed"
    )
    assert of_type(received, "input_audio_buffer.committed")[0]["item_id"] == timeout["item_id"]
    assert received[-1]["response"]["status"] == "completed"


async def test_response_cancel_and_item_truncate_behave_as_openai_documents(
    daphne_server, org_alpha, simulator
):
    await configure_agent(
        org_alpha, llm_routes=simulator_route(simulator, "long-reply"), turn_detection=None
    )
    await simulator.configure(reply="This is a long answer. " * 20)
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        await ask_in_text(connection, "Talk.")
        first_audio = (await events_until(connection, "response.output_audio.delta"))[-1]
        await connection.response.cancel()
        done = (await events_until(connection, "response.done"))[-1]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"

        await connection.conversation.item.truncate(
            item_id=first_audio["item_id"], content_index=0, audio_end_ms=20
        )
        truncated = (await events_until(connection, "conversation.item.truncated"))[-1]
        assert truncated["item_id"] == first_audio["item_id"]
        assert truncated["audio_end_ms"] == 20


async def test_an_answer_truncated_after_it_was_recorded_is_stored_as_heard(
    daphne_server, org_alpha, simulator
):
    answer = "The museum opens at nine. It closes at six. Tickets cost ten euros."
    await configure_agent(
        org_alpha, llm_routes=simulator_route(simulator, f"say:{answer}"), turn_detection=None
    )
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        await ask_in_text(connection, "When is it open?")
        received = await events_until(connection, "response.done")
        item_id = of_type(received, "response.output_audio.delta")[0]["item_id"]
        # The answer is recorded when the response is done; the client played only some of it.
        await connection.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=1500
        )
        await events_until(connection, "conversation.item.truncated")

    def stored() -> tuple[str, bool] | None:
        from conversations.models import Message

        message = Message.objects.filter(item_id=item_id).first()
        return None if message is None else (message.text, message.truncated)

    deadline = asyncio.get_running_loop().time() + 10
    while (message := await in_schema(org_alpha.schema_name, stored)) is None or not message[1]:
        assert asyncio.get_running_loop().time() < deadline, f"stored: {message}"
        await asyncio.sleep(0.1)
    heard, _ = message
    assert heard
    assert answer.startswith(heard)
    assert len(heard) < len(answer)


async def test_a_client_side_function_call_round_trip(daphne_server, org_alpha, simulator):
    await configure_agent(
        org_alpha,
        llm_routes=simulator_route(simulator, 'tool-call:lookup_weather:{"city": "Paris"}'),
        turn_detection=None,
    )
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        await connection.session.update(
            session={
                "type": "realtime",
                "tools": [
                    {
                        "type": "function",
                        "name": "lookup_weather",
                        "description": "Weather for a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    }
                ],
            }
        )
        await events_until(connection, "session.updated")
        await ask_in_text(connection, "Weather?")
        first = await events_until(connection, "response.done")
        call = of_type(first, "response.function_call_arguments.done")[0]
        assert call["name"] == "lookup_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris"}

        await connection.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": '{"sky": "sunny"}',
            }
        )
        await connection.response.create()
        second = await events_until(connection, "response.done")
    assert second[-1]["response"]["status"] == "completed"
    spoken = of_type(second, "response.output_audio_transcript.done")
    assert spoken, "the follow-up answer was not spoken"
    assert "sunny" in spoken[0]["transcript"]


async def test_a_server_side_tool_runs_and_its_result_is_spoken(
    daphne_server, org_alpha, simulator
):
    await configure_agent(
        org_alpha,
        llm_routes=simulator_route(
            simulator, 'tool-call:get_current_time:{"timezone": "Europe/Paris"}'
        ),
        builtin_tools=["get_current_time"],
        turn_detection=None,
    )
    client = sdk_client(daphne_server, await issue_key(org_alpha))
    async with client.realtime.connect(model="aura-local") as connection:
        await events_until(connection, "session.created")
        await ask_in_text(connection, "Time?")
        received = await events_until(connection, "response.done")
    output = received[-1]["response"]["output"]
    kinds = [item["type"] for item in output]
    assert "function_call" in kinds
    assert "function_call_output" in kinds or any(
        e["type"] == "conversation.item.added" and e["item"]["type"] == "function_call_output"
        for e in received
    )
    assert of_type(received, "response.output_audio_transcript.done"), "no spoken follow-up"
