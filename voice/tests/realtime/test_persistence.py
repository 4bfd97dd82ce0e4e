"""A session's store writes what a turn cost even when its transcript cannot be written, and
keeps what a model says even when it holds characters PostgreSQL refuses."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from conversations.models import Conversation, Message
from conversations.services import conversation_start
from monitoring.models import UsageRecord
from voice.engine.llm.base import ChatMessage, ToolCall
from voice.realtime.persistence import ConversationStore
from voice.tests.engine.fakes import llm_usage, turn_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

LLM_USAGE = llm_usage(prompt_tokens=120, completion_tokens=30)


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> Any:
    """The store's worker threads keep connections; close them so the database can go."""
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


async def _conversation(organization: Any) -> str:
    def start() -> str:
        with schema_context(organization.schema_name):
            return str(conversation_start(end_user_id="", session_id=SESSION_ID).pk)

    return await sync_to_async(start)()


SESSION_ID = "sess_test"


async def _one_turn(
    organization: Any, conversation_id: str, messages: tuple[ChatMessage, ...]
) -> None:
    """One turn through the store, as a session reports it: messages, metrics and usage."""
    store = ConversationStore(
        schema_name=organization.schema_name,
        conversation_id=conversation_id,
        session_id=SESSION_ID,
    )
    store.start()
    await store.turn_finished(
        # Tenant schemas are not flushed between tests: the conversation's id as the
        # response's lets each test find its own usage, even once the conversation is gone.
        messages,
        turn_report(conversation_id[:64], output_tokens=30, usage=(LLM_USAGE,)),
    )
    await store.close()


def _stored(organization: Any, conversation_id: str) -> tuple[list[Message], list[UsageRecord]]:
    with schema_context(organization.schema_name):
        return (
            list(Message.objects.filter(conversation_id=conversation_id)),
            list(UsageRecord.objects.filter(response_id=conversation_id)),
        )


async def test_a_nul_from_the_model_is_stored_as_a_replacement_character(org_alpha):
    conversation_id = await _conversation(org_alpha)
    call = ToolCall(id="call_1", name="lookup", arguments='{"q": "a\x00b"}')
    await _one_turn(
        org_alpha,
        conversation_id,
        (
            ChatMessage(role="user", content="hello", item_id="item_u"),
            ChatMessage(
                role="assistant", content="odd\x00answer", item_id="item_a", tool_calls=(call,)
            ),
        ),
    )
    messages, usage = await sync_to_async(_stored)(org_alpha, conversation_id)
    assert [m.text for m in messages] == ["hello", "odd\ufffdanswer"]
    assert messages[1].tool_calls == [
        {"id": "call_1", "name": "lookup", "arguments": '{"q": "a\ufffdb"}'}
    ]
    assert [(u.prompt_tokens, str(u.conversation_id)) for u in usage] == [(120, conversation_id)]


async def test_usage_is_recorded_when_the_transcript_write_fails(org_alpha):
    conversation_id = await _conversation(org_alpha)
    # An item id longer than its column (the socket refuses these; the store must not rely
    # on that for the bill): the message insert fails in the database.
    await _one_turn(
        org_alpha,
        conversation_id,
        (ChatMessage(role="assistant", content="answer", item_id="x" * 65),),
    )
    messages, usage = await sync_to_async(_stored)(org_alpha, conversation_id)
    assert messages == []
    assert len(usage) == 1
    assert usage[0].completion_tokens == 30
    assert str(usage[0].conversation_id) == conversation_id


async def test_usage_outlives_a_conversation_deleted_during_the_session(org_alpha):
    conversation_id = await _conversation(org_alpha)

    def delete() -> None:
        with schema_context(org_alpha.schema_name):
            Conversation.objects.filter(pk=conversation_id).delete()

    await sync_to_async(delete)()
    await _one_turn(org_alpha, conversation_id, (ChatMessage(role="assistant", content="hi"),))
    messages, usage = await sync_to_async(_stored)(org_alpha, conversation_id)
    assert messages == []
    assert [(u.conversation_id, u.prompt_tokens) for u in usage] == [(None, 120)]
