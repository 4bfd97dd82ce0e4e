"""Quality signals over a real socket on a real daphne: ratings, outcomes, refusals, playback.

A visitor with a publishable key rates the conversation their own session holds, and nothing
else: the `aura.feedback` event names no conversation, and an answer of another session's
conversation is refused. Every conversation a socket lets go of gets an outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context
from websockets.asyncio.client import connect
from websockets.typing import Origin, Subprotocol

from conversations.models import Conversation, Feedback
from tenants.models import Organization
from voice.realtime.aura_events import PlaybackPosition
from voice.realtime.quality_signals import CLOSE_IDLE, SessionSignals
from voice.tests.realtime.conftest import configure_agent, issue_key
from voice.tests.realtime.socket_client import next_event, send_user_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

ORIGIN = "https://shop.example"


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> Any:
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


def url(server: Any, query: str = "aura=1") -> str:
    return f"{server.websocket_base_url}/realtime?{query}"


def as_public_page(key: str) -> dict[str, Any]:
    return {
        "subprotocols": [Subprotocol("realtime"), Subprotocol(f"openai-insecure-api-key.{key}")],
        "origin": Origin(ORIGIN),
    }


async def ask(socket: Any, text: str) -> str:
    """A text turn; the id of the assistant's answer once its response is done."""
    await send_user_text(socket, text)
    await socket.send(json.dumps({"type": "response.create"}))
    done = await next_event(socket, "response.done")
    return str(done["response"]["output"][0]["id"])


T = TypeVar("T")


def in_schema(organization: Organization, read: Callable[[], T]) -> Awaitable[T]:
    def run() -> T:
        with schema_context(organization.schema_name):
            return read()

    return sync_to_async(run)()


async def conversation_after_close(organization: Any, conversation_id: str) -> Conversation:
    """The conversation once the server has let go of it (the close is written after the
    socket closes, so wait for the outcome)."""
    async with asyncio.timeout(20):
        while True:
            conversation = await in_schema(
                organization, lambda: Conversation.objects.get(pk=conversation_id)
            )
            if conversation.outcome:
                return conversation
            await asyncio.sleep(0.1)


@pytest.fixture
async def public_key(org_alpha: Any, simulator: Any) -> str:
    route = [{"provider": "openai_compatible", "model": "m", "base_url": simulator.base_url}]
    await configure_agent(org_alpha, llm_routes=route, turn_detection=None)
    await simulator.configure(reply="Happy to help.")
    return await issue_key(org_alpha, kind="pk", allowed_origins=[ORIGIN])


async def test_a_visitor_rates_their_conversation_and_an_answer_of_it(
    daphne_server, org_alpha, public_key
):
    async with connect(url(daphne_server), **as_public_page(public_key)) as socket:
        conversation_id = (await next_event(socket, "aura.session.created"))["conversation_id"]
        answer = await ask(socket, "Hello?")
        await socket.send(json.dumps({"type": "aura.feedback", "rating": "up", "item_id": answer}))
        assert (await next_event(socket, "aura.feedback.recorded"))["item_id"] == answer
        await socket.send(
            json.dumps({"type": "aura.feedback", "rating": "down", "comment": " Too slow. "})
        )
        recorded = await next_event(socket, "aura.feedback.recorded")
        assert (recorded["item_id"], recorded["rating"]) == (None, "down")
        # Rating again replaces the rating.
        await socket.send(
            json.dumps({"type": "aura.feedback", "rating": "down", "item_id": answer})
        )
        await next_event(socket, "aura.feedback.recorded")

    ratings = await in_schema(
        org_alpha,
        lambda: sorted(
            Feedback.objects.filter(conversation_id=conversation_id).values_list(
                "item_id", "rating", "comment", "source"
            )
        ),
    )
    assert ratings == [("", "down", "Too slow.", "realtime"), (answer, "down", "", "realtime")]


async def test_a_visitor_cannot_rate_another_sessions_conversation(
    daphne_server, org_alpha, public_key
):
    """The attacker holds the same public key and knows the victim's conversation id and the
    id of an answer in it: neither gets them a rating there."""
    async with connect(url(daphne_server), **as_public_page(public_key)) as victim:
        victim_conversation = (await next_event(victim, "aura.session.created"))["conversation_id"]
        victim_answer = await ask(victim, "Hello?")
        async with connect(url(daphne_server), **as_public_page(public_key)) as attacker:
            attacker_conversation = (await next_event(attacker, "aura.session.created"))[
                "conversation_id"
            ]
            await attacker.send(
                json.dumps(
                    {
                        "type": "aura.feedback",
                        "rating": "down",
                        "conversation_id": victim_conversation,
                    }
                )
            )
            error = (await next_event(attacker, "error"))["error"]
            assert (error["code"], error["param"]) == ("invalid_event", "conversation_id")
            await attacker.send(
                json.dumps({"type": "aura.feedback", "rating": "down", "item_id": victim_answer})
            )
            error = (await next_event(attacker, "error"))["error"]
            assert error["type"] == "invalid_request_error"
            assert error["param"] == "item_id"

    rated = await in_schema(
        org_alpha,
        lambda: list(Feedback.objects.values_list("conversation_id", flat=True)),
    )
    assert str(victim_conversation) not in {str(c) for c in rated}
    assert str(attacker_conversation) not in {str(c) for c in rated}


async def test_a_conversation_answered_then_left_is_completed(daphne_server, org_alpha, public_key):
    async with connect(url(daphne_server), **as_public_page(public_key)) as socket:
        conversation_id = (await next_event(socket, "aura.session.created"))["conversation_id"]
        await ask(socket, "Hello?")
    conversation = await conversation_after_close(org_alpha, conversation_id)
    assert (conversation.outcome, conversation.outcome_reason) == ("completed", "client_closed")


async def test_a_conversation_left_without_an_answer_is_abandoned(
    daphne_server, org_alpha, public_key
):
    async with connect(url(daphne_server), **as_public_page(public_key)) as socket:
        conversation_id = (await next_event(socket, "aura.session.created"))["conversation_id"]
    conversation = await conversation_after_close(org_alpha, conversation_id)
    assert (conversation.outcome, conversation.outcome_reason) == ("abandoned", "no_answer")


async def test_a_failed_last_turn_fails_the_conversation_with_its_code(
    daphne_server, org_alpha, simulator
):
    route = [{"provider": "openai_compatible", "model": "fail-500", "base_url": simulator.base_url}]
    await configure_agent(org_alpha, llm_routes=route, turn_detection=None)
    key = await issue_key(org_alpha)
    headers = {"Authorization": f"Bearer {key}"}
    async with connect(url(daphne_server), additional_headers=headers) as socket:
        conversation_id = (await next_event(socket, "aura.session.created"))["conversation_id"]
        await socket.send(json.dumps({"type": "response.create"}))
        done = await next_event(socket, "response.done")
        assert done["response"]["status"] == "failed"
        metrics = await next_event(socket, "aura.turn.metrics")
        assert (metrics["status"], metrics["failed_stage"]) == ("failed", "llm")
    conversation = await conversation_after_close(org_alpha, conversation_id)
    assert conversation.outcome == "failed"
    assert conversation.outcome_reason == metrics["error_code"]
    stored = await in_schema(
        org_alpha, lambda: list(conversation.turns.values_list("status", "failed_stage"))
    )
    assert stored == [("failed", "llm")]


def test_the_outcome_follows_how_the_session_ended() -> None:
    """The outcome rules, one by one (docs/api/usage-and-billing.md)."""
    signals = SessionSignals()
    assert signals.decide(close_code=None, lost=False).outcome == "abandoned"  # type: ignore[union-attr]
    signals.answered = 1
    assert signals.decide(close_code=None, lost=False).outcome == "completed"  # type: ignore[union-attr]
    assert signals.decide(close_code=CLOSE_IDLE, lost=False).reason == "idle_timeout"  # type: ignore[union-attr]
    assert signals.decide(close_code=None, lost=True) is None
    signals.responding = True
    assert signals.decide(close_code=None, lost=False).outcome == "abandoned"  # type: ignore[union-attr]
    signals.agent_ended = True
    assert signals.decide(close_code=1000, lost=False).outcome == "ended_by_agent"  # type: ignore[union-attr]


def playback(**counts: object) -> PlaybackPosition:
    return PlaybackPosition.model_validate(
        {"type": "aura.playback.position", "item_id": "item_a", "played_ms": 0, **counts}
    )


def test_playback_reports_only_add_and_are_bounded() -> None:
    signals = SessionSignals()
    signals.playback_reported(playback(underruns=2, late_ms=120))
    signals.playback_reported(playback(underruns=1, late_ms=50))  # going backwards: ignored
    signals.playback_reported(playback(underruns=10**9, late_ms="x"))
    assert signals.underruns == 2 + 50
    assert signals.late_ms == 120
