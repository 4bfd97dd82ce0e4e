"""After a process died (voice/realtime/recovery.py): what it journaled is stored exactly once,
and a conversation nobody can resume any more is ended."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from conversations.models import Conversation, Message, TurnMetrics
from conversations.services import conversation_start
from core.redis import redis_sync_client
from monitoring.models import UsageRecord
from voice.engine.llm.base import ChatMessage
from voice.realtime.journal import TurnRecord, journal_key
from voice.realtime.limits import session_owner_key
from voice.realtime.persistence import ConversationStore
from voice.realtime.recovery import conversations_end_orphaned, journal_recover
from voice.realtime.resume import snapshot_key
from voice.tests.engine.fakes import llm_usage, turn_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

LLM_USAGE = llm_usage(prompt_tokens=12, completion_tokens=3)


def conversation(organization: Any, session_id: str) -> str:
    with schema_context(organization.schema_name):
        return str(conversation_start(session_id=session_id).pk)


def stored(organization: Any, conversation_id: str) -> tuple[list[str], int, int]:
    with schema_context(organization.schema_name):
        items = list(
            Message.objects.filter(conversation_id=conversation_id).values_list(
                "item_id", flat=True
            )
        )
        turns = TurnMetrics.objects.filter(conversation_id=conversation_id).count()
        usage = UsageRecord.objects.filter(conversation_id=conversation_id).count()
    return items, turns, usage


async def test_a_turn_reported_by_a_process_that_then_died_is_stored_by_recovery(org_alpha):
    session_id = "sess_" + uuid.uuid4().hex
    conversation_id = await sync_to_async(conversation)(org_alpha, session_id)
    # A store whose writer never runs: the process dies right after the client heard "done".
    dying = ConversationStore(
        schema_name=org_alpha.schema_name, conversation_id=conversation_id, session_id=session_id
    )
    await dying.turn_finished(
        (
            ChatMessage(role="user", content="Book a table.", item_id="item_r_u"),
            ChatMessage(role="assistant", content="Done.", item_id="item_r_a"),
        ),
        turn_report("resp_r", output_tokens=3, usage=(LLM_USAGE,)),
    )
    assert await dying.durable("resp_r", timeout_s=0.1)  # journaled: the client may hear it
    assert await sync_to_async(stored)(org_alpha, conversation_id) == ([], 0, 0)

    await sync_to_async(journal_recover)(older_than_s=0)
    await sync_to_async(journal_recover)(older_than_s=0)  # a second pass stores nothing more

    assert await sync_to_async(stored)(org_alpha, conversation_id) == (
        ["item_r_u", "item_r_a"],
        1,
        1,
    )


def test_a_record_written_twice_is_stored_once(org_alpha):
    session_id = "sess_" + uuid.uuid4().hex
    conversation_id = conversation(org_alpha, session_id)
    record = TurnRecord(
        schema_name=org_alpha.schema_name,
        conversation_id=conversation_id,
        session_id=session_id,
        messages=[{"role": "user", "text": "Hi", "item_id": "item_twice"}],
        metrics={"response_id": "resp_twice"},
        usage=[LLM_USAGE.as_dict()],
    )
    # The live writer and a recovery both got to it (the journal entry was appended twice).
    client = redis_sync_client()
    for _ in range(2):
        client.xadd(journal_key(), {"record": record.to_json()})
    journal_recover(older_than_s=0)
    assert stored(org_alpha, conversation_id) == (["item_twice"], 1, 1)


def test_a_conversation_is_ended_once_its_session_has_no_lease_and_no_snapshot(org_alpha):
    live, resumable, gone = ("sess_" + uuid.uuid4().hex for _ in range(3))
    ids = {sid: conversation(org_alpha, sid) for sid in (live, resumable, gone)}
    client = redis_sync_client()
    client.hset(session_owner_key(live), "socket", "sock_x")
    client.expire(session_owner_key(live), 60)
    client.set(snapshot_key(resumable), "{}", ex=60)
    time.sleep(0.05)
    try:
        conversations_end_orphaned(grace_s=0)
    finally:
        client.delete(session_owner_key(live), snapshot_key(resumable))
    with schema_context(org_alpha.schema_name):
        status = dict(
            Conversation.objects.filter(pk__in=ids.values()).values_list("session_id", "status")
        )
    assert status == {live: "active", resumable: "active", gone: "ended"}


# A turn as the version before typed turn reports journaled it (entries outlive a deploy).
EARLIER_METRICS = {
    "response_id": "resp_old",
    "user_item_id": "item_old_u",
    "stt_ms": 80.5,
    "llm_first_token_ms": 210.0,
    "first_clause_ms": 300.0,
    "tts_first_audio_ms": 90.0,
    "voice_to_voice_ms": 640.0,
    "input_tokens": 12,
    "output_tokens": 3,
    "audio_in_s": 1.2,
    "audio_out_s": 0.9,
    "llm_route": "fast",
    "speculative": False,
    "status": "completed",
    "failed_stage": None,
    "error_code": None,
    "audio_quality": {"level_dbfs": -21.5, "arrival_gaps": 2},
}
EARLIER_ENTRY = {
    "schema_name": "",
    "conversation_id": "",
    "session_id": "",
    "messages": [
        {
            "role": "user",
            "text": "Is it open?",
            "item_id": "item_old_u",
            "truncated": False,
            "tool_calls": [],
            "tool_call_id": None,
        },
        {
            "role": "assistant",
            "text": "Until nine.",
            "item_id": "item_old_a",
            "truncated": False,
            "tool_calls": [],
            "tool_call_id": None,
        },
    ],
    "metrics": EARLIER_METRICS,
    "usage": [LLM_USAGE.as_dict()],
    "truncations": [],
    "record_id": "",
}


def test_a_turn_journaled_by_the_previous_version_is_stored_by_recovery(org_alpha):
    session_id = "sess_" + uuid.uuid4().hex
    conversation_id = conversation(org_alpha, session_id)
    entry = EARLIER_ENTRY | {
        "schema_name": org_alpha.schema_name,
        "conversation_id": conversation_id,
        "session_id": session_id,
        "record_id": uuid.uuid4().hex,
    }
    redis_sync_client().xadd(journal_key(), {"record": json.dumps(entry)})

    journal_recover(older_than_s=0)

    assert stored(org_alpha, conversation_id) == (["item_old_u", "item_old_a"], 1, 1)
    with schema_context(org_alpha.schema_name):
        turn = TurnMetrics.objects.get(conversation_id=conversation_id)
        usage = UsageRecord.objects.get(conversation_id=conversation_id)
    assert (turn.response_id, turn.voice_to_voice_ms, turn.route, turn.status) == (
        "resp_old",
        640.0,
        "fast",
        "completed",
    )
    assert (turn.input_level_dbfs, turn.arrival_gaps) == (-21.5, 2)
    assert (usage.response_id, usage.prompt_tokens) == ("resp_old", 12)


def test_a_turn_report_is_journaled_in_the_form_the_previous_version_reads():
    report = turn_report("resp_new", output_tokens=3, usage=(LLM_USAGE,))
    record = TurnRecord.of_turn(
        report, schema_name="s", conversation_id="c", session_id="sess", messages=[]
    )
    written = json.loads(record.to_json())

    assert written.keys() == EARLIER_ENTRY.keys()
    assert written["metrics"].keys() == EARLIER_METRICS.keys()
    assert written["usage"] == [LLM_USAGE.as_dict()]
    assert TurnRecord.from_json(record.to_json()) == record
    assert TurnRecord.from_json(record.to_json()).response_id == "resp_new"
