"""What a session leaves behind (voice/realtime/recorder.py): a turn is journaled before the
client hears it is done, and the resume snapshot stays small whatever the conversation holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings
from django_tenants.utils import schema_context

from conversations.models import Message
from conversations.services import conversation_start
from core.redis import redis_client
from voice.engine.config import AgentConfig
from voice.engine.llm.base import ChatMessage
from voice.realtime.journal import journal_entries_of
from voice.realtime.recorder import SessionRecorder, newest_messages_within
from voice.realtime.resume import snapshot_key
from voice.tests.engine.fakes import turn_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
async def _close_thread_connections() -> Any:
    yield
    from django.db import connections

    await sync_to_async(connections.close_all)()


class FakeSession:
    """The engine session as the recorder reads it."""

    def __init__(self, messages: tuple[tuple[str, str, bool, str], ...] = ()) -> None:
        self.messages = messages

    def resumable_messages(self) -> tuple[tuple[str, str, bool, str], ...]:
        return self.messages

    def drain_usage(self) -> tuple[()]:
        return ()


async def recorder_for(organization: Any, session_id: str) -> SessionRecorder:
    def start() -> str:
        with schema_context(organization.schema_name):
            return str(conversation_start(session_id=session_id).pk)

    recorder = SessionRecorder(
        schema_name=organization.schema_name,
        session_id=session_id,
        socket_id="sock_" + session_id,
        conversation_id=await sync_to_async(start)(),
        end_user_id="",
        key_id=None,
    )
    recorder.start()
    return recorder


def test_the_snapshot_keeps_the_newest_messages_that_fit():
    messages = tuple(("user", "x" * 100, False, f"item_{n}") for n in range(100))
    kept = newest_messages_within(messages, 1000)
    assert kept == messages[-len(kept) :]
    assert 0 < len(kept) < 10
    assert len(json.dumps([list(m) for m in kept])) <= 1000


@override_settings(AURA_RESUME_SNAPSHOT_MAX_BYTES=64 * 1024)
async def test_a_huge_conversation_leaves_a_snapshot_under_its_cap(org_alpha):
    session_id = "sess_recorder_cap"
    recorder = await recorder_for(org_alpha, session_id)
    try:
        await recorder.issue_resume_token()
        huge = tuple(("user", "y" * 10_000, False, f"item_{n}") for n in range(500))
        await recorder.save_snapshot(FakeSession(huge), AgentConfig())  # type: ignore[arg-type]
        size = await redis_client().strlen(snapshot_key(session_id))
    finally:
        await recorder.discard_snapshot()
        await recorder.close(timeout_s=10)
    assert 60 * 1024 < size < 72 * 1024  # the messages' cap, and the config beside them


async def test_a_turn_told_done_is_stored_once_and_leaves_the_journal(org_alpha):
    session_id = "sess_recorder_wal"
    recorder = await recorder_for(org_alpha, session_id)
    messages = (
        ChatMessage(role="user", content="What time is it?", item_id="item_wal_u"),
        ChatMessage(role="assistant", content="Noon.", item_id="item_wal_a"),
    )
    await recorder.store.turn_finished(messages, turn_report("resp_wal"))
    await recorder.turn_done(FakeSession(), "resp_wal", AgentConfig())  # type: ignore[arg-type]
    await recorder.close(timeout_s=10)

    def stored() -> list[str]:
        with schema_context(org_alpha.schema_name):
            return list(
                Message.objects.filter(conversation_id=recorder.conversation_id).values_list(
                    "item_id", flat=True
                )
            )

    assert await sync_to_async(stored)() == ["item_wal_u", "item_wal_a"]
    assert await journal_entries_of(session_id) == []  # written, so dropped from the journal


async def test_a_turn_never_reported_is_told_done_after_the_wait(org_alpha, monkeypatch):
    from voice.realtime import recorder as module

    monkeypatch.setattr(module, "DURABLE_WAIT_S", 0.2)
    recorder = await recorder_for(org_alpha, "sess_recorder_never")
    try:
        await recorder.turn_done(FakeSession(), "resp_never", AgentConfig())  # type: ignore[arg-type]
    finally:
        await recorder.close(timeout_s=10)
