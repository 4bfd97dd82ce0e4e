"""Memory, end to end: turns recorded by a session's store are summarised by a real Celery
worker with the organization's own LLM route, and a returning user is remembered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from conversations.models import Conversation
from conversations.selectors import conversation_memory
from conversations.services import conversation_start
from voice.engine.llm.base import ChatMessage
from voice.models import Agent
from voice.realtime.persistence import ConversationStore
from voice.tests.engine.fakes import turn_report
from voice.tests.engine.simulator import SimulatorProcess, run_simulator

NOTES = "The user is Alice; she prefers green tea and lives in Lisbon."
SUMMARY_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with run_simulator(first_token_ms=20, inter_token_ms=2) as process:
        yield process


def _point_default_agent_at(organization: Any, simulator: SimulatorProcess, model: str) -> int:
    with schema_context(organization.schema_name):
        agent = Agent.objects.get(is_default=True)
        agent.llm_routes = [
            {"provider": "openai_compatible", "model": model, "base_url": simulator.base_url}
        ]
        agent.save(update_fields=["llm_routes"])
        return agent.pk


def _chatter(turns: int) -> list[tuple[ChatMessage, ...]]:
    return [
        (
            ChatMessage(role="user", content=f"Question {n}: " + "tell me about tea. " * 20),
            ChatMessage(role="assistant", content=f"Answer {n}: " + "tea is a drink. " * 20),
        )
        for n in range(turns)
    ]


async def _record_turns(organization: Any, conversation_id: str, turns: int) -> None:
    """As a realtime session does: through its store, which queues the summary on commit."""
    store = ConversationStore(schema_name=organization.schema_name, conversation_id=conversation_id)
    store.start()
    for n, messages in enumerate(_chatter(turns)):
        await store.turn_finished(messages, turn_report(f"resp_{n}"))
    await store.close()


def _wait_until_folded_through(
    organization: Any, conversation_id: str, position: int
) -> Conversation:
    """The conversation once the worker's summaries reach `position` (they run as turns land)."""
    deadline = time.monotonic() + SUMMARY_TIMEOUT_S
    while time.monotonic() < deadline:
        with schema_context(organization.schema_name):
            conversation = Conversation.objects.get(pk=conversation_id)
        if conversation.summarized_through >= position:
            return conversation
        time.sleep(0.2)
    raise AssertionError(f"the summary did not reach message {position} in {SUMMARY_TIMEOUT_S} s")


def test_a_long_conversation_is_summarised_and_a_returning_user_is_remembered(
    celery_worker_process: str,
    org_alpha: Any,
    org_beta: Any,
    simulator: SimulatorProcess,
    settings: Any,
) -> None:
    settings.AURA_MEMORY_SUMMARY_AFTER_CHARS = 1000
    agent_id = _point_default_agent_at(org_alpha, simulator, f"notes+say:{NOTES}")
    with schema_context(org_alpha.schema_name):
        first = conversation_start(end_user_id="alice", agent_id=agent_id)
    with schema_context(org_beta.schema_name):
        elsewhere = conversation_start(end_user_id="alice")

    asyncio.run(_record_turns(org_alpha, str(first.pk), turns=8))

    # 16 messages: all but the last few (kept verbatim in the model's context) are folded.
    last_folded = 16 - settings.AURA_MEMORY_KEEP_MESSAGES - 1
    summarised = _wait_until_folded_through(org_alpha, str(first.pk), last_folded)
    assert summarised.summarized_through == last_folded
    assert summarised.summary == NOTES

    with schema_context(org_alpha.schema_name):
        returning = conversation_start(end_user_id="alice", agent_id=agent_id)
        memory = conversation_memory(conversation_id=str(returning.pk))
        stranger = conversation_start(end_user_id="bob", agent_id=agent_id)
        assert conversation_memory(conversation_id=str(stranger.pk)) is None
    assert memory is not None
    assert NOTES in memory
    # Another organization's user of the same id shares nothing.
    with schema_context(org_beta.schema_name):
        assert conversation_memory(conversation_id=str(elsewhere.pk)) is None
