"""Writes of conversations; callers run them inside the organization's schema."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from conversations.models import AppliedTurnRecord, Conversation, Message, TurnMetrics
from voice.engine.assembly import build_llm
from voice.engine.llm.base import ChatMessage
from voice.engine.summarize import summarize
from voice.selectors import agent_config, agent_for_session


@transaction.atomic
def conversation_start(
    *, end_user_id: str = "", agent_id: int | None = None, session_id: str = ""
) -> Conversation:
    return Conversation.objects.create(
        end_user_id=end_user_id[:200], agent_id=agent_id, session_id=session_id
    )


@transaction.atomic
def message_append(
    *, conversation: Conversation, role: str, text: str, truncated: bool = False
) -> Message:
    # Lock the conversation row so concurrent appends get distinct positions.
    Conversation.objects.select_for_update().get(pk=conversation.pk)
    last = conversation.messages.aggregate(last=Max("position"))["last"]
    return Message.objects.create(
        conversation=conversation,
        position=0 if last is None else last + 1,
        role=role,
        text=text,
        truncated=truncated,
    )


@transaction.atomic
def conversations_end_stale(*, older_than_s: int) -> int:
    """End active conversations with no message for `older_than_s` seconds; return how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stale = Conversation.objects.filter(
        status=Conversation.Status.ACTIVE, started_at__lt=cutoff
    ).exclude(messages__created_at__gte=cutoff)
    return stale.update(status=Conversation.Status.ENDED, ended_at=timezone.now())


def conversations_end(*, conversation_ids: Sequence[str]) -> int:
    """End these conversations if they are still active (their session is gone for good)."""
    return Conversation.objects.filter(
        pk__in=conversation_ids, status=Conversation.Status.ACTIVE
    ).update(status=Conversation.Status.ENDED, ended_at=timezone.now())


def turn_record_claim(*, key: str) -> bool:
    """Inside the transaction that writes a journaled record: True the first time `key` is
    claimed, False if that record is stored already. A writer racing for the same key waits
    on the row until the first one commits (then gets False) or rolls back (then gets True)."""
    _claimed, created = AppliedTurnRecord.objects.get_or_create(key=key)
    return created


def applied_turn_records_prune(*, older_than_s: int) -> int:
    """Forget claims older than any journal entry can be (they only guard against a replay)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    deleted, _ = AppliedTurnRecord.objects.filter(applied_at__lt=cutoff).delete()
    return deleted


# The engine's TurnMetrics field -> the TurnMetrics model field.
METRIC_FIELDS = {
    "response_id": "response_id",
    "stt_ms": "stt_ms",
    "llm_first_token_ms": "llm_first_token_ms",
    "first_clause_ms": "first_clause_ms",
    "tts_first_audio_ms": "tts_first_audio_ms",
    "voice_to_voice_ms": "voice_to_voice_ms",
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "audio_in_s": "audio_in_s",
    "audio_out_s": "audio_out_s",
    "llm_route": "route",
    "status": "status",
}


def storable_text(text: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL: clients' text with one is refused at the
    socket, and what a model or a transcriber produces is kept with U+FFFD in its place."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def storable_json(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


@transaction.atomic
def conversation_record_turn(
    *,
    conversation_id: str,
    messages: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Any] | None = None,
) -> list[Message]:
    """Append one turn's messages (and its metrics) at a turn boundary, in one transaction."""
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    last = conversation.messages.aggregate(last=Max("position"))["last"]
    position = -1 if last is None else last
    # A resumed session reports the messages it restored again: those already stored (the
    # crashed process got to write them) are skipped, the others are written now.
    item_ids = [storable_text(message.get("item_id") or "") for message in messages]
    stored = set(
        conversation.messages.filter(item_id__in=[i for i in item_ids if i]).values_list(
            "item_id", flat=True
        )
    )
    created = []
    for message, item_id in zip(messages, item_ids, strict=True):
        if item_id and item_id in stored:
            continue
        position += 1
        created.append(
            Message(
                conversation=conversation,
                position=position,
                role=message["role"],
                text=storable_text(message.get("text") or ""),
                item_id=item_id,
                truncated=bool(message.get("truncated", False)),
                tool_calls=storable_json(list(message.get("tool_calls", ()))),
                tool_call_id=storable_text(message.get("tool_call_id") or ""),
            )
        )
    Message.objects.bulk_create(created)
    if metrics:
        TurnMetrics.objects.create(
            conversation=conversation,
            **{
                column: metrics[name]
                for name, column in METRIC_FIELDS.items()
                if metrics.get(name) is not None
            },
        )
    return created


@transaction.atomic
def message_truncate(*, conversation_id: str, item_id: str, text: str) -> bool:
    """The user stopped an answer after it was recorded: keep only what they heard of it.

    False when no such message is stored yet (its turn, recorded later, carries the cut text).
    """
    updated = Message.objects.filter(
        conversation_id=conversation_id,
        item_id=storable_text(item_id),
        role=Message.Role.ASSISTANT,
    ).update(text=storable_text(text), truncated=True)
    return updated > 0


@transaction.atomic
def conversation_end(*, conversation_id: str) -> None:
    Conversation.objects.filter(pk=conversation_id, status=Conversation.Status.ACTIVE).update(
        status=Conversation.Status.ENDED, ended_at=timezone.now()
    )


def conversation_summarize(*, conversation_id: str) -> bool:
    """Fold the conversation's older messages into its summary; False if nothing was due.

    The model call happens outside any transaction (it can take seconds); the write re-checks
    that no other summary landed meanwhile.
    """
    conversation = Conversation.objects.select_related("agent").get(pk=conversation_id)
    pending = list(conversation.messages.filter(position__gt=conversation.summarized_through))
    to_fold = pending[: -settings.AURA_MEMORY_KEEP_MESSAGES or None]
    if not to_fold:
        return False
    agent = conversation.agent or agent_for_session(None)
    llm = build_llm(agent_config(agent).llm_routes)
    messages = [
        ChatMessage(role="user" if m.role == "user" else "assistant", content=m.text)
        for m in to_fold
        if m.role in ("user", "assistant")
    ]
    summary = asyncio.run(summarize(llm, previous=conversation.summary, messages=messages))
    with transaction.atomic():
        updated = Conversation.objects.filter(
            pk=conversation.pk, summarized_through=conversation.summarized_through
        ).update(summary=summary, summarized_through=to_fold[-1].position)
    return updated == 1


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with its messages and turn metrics (usage records stay, unlinked)."""
    conversation.delete()
