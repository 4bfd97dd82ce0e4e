"""Writes of conversations; callers run them inside the organization's schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from conversations.models import (
    AppliedTurnRecord,
    Conversation,
    Feedback,
    Message,
    MosScore,
    SessionRefusal,
    TurnMetrics,
)
from conversations.summaries import summarizer
from core.errors import InvalidRequestError


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
    "failed_stage": "failed_stage",
    "error_code": "error_code",
}
# The engine's audio quality keys (voice.engine.pipeline.user_turn.Turn.measure_quality)
# -> model fields.
AUDIO_QUALITY_FIELDS = {
    "level_dbfs": "input_level_dbfs",
    "clipping_ratio": "clipping_ratio",
    "noise_floor_dbfs": "noise_floor_dbfs",
    "snr_db": "snr_db",
    "arrival_jitter_ms": "arrival_jitter_ms",
    "arrival_gaps": "arrival_gaps",
    "stt_confidence": "stt_confidence",
}
FEEDBACK_COMMENT_MAX_CHARS = 2000


def _turn_columns(metrics: Mapping[str, Any]) -> dict[str, Any]:
    columns = {
        column: metrics[name]
        for name, column in METRIC_FIELDS.items()
        if metrics.get(name) is not None
    }
    for column in ("failed_stage", "error_code"):
        if column in columns:
            columns[column] = storable_text(str(columns[column]))[:64]
    quality = metrics.get("audio_quality")
    if isinstance(quality, Mapping):
        for name, column in AUDIO_QUALITY_FIELDS.items():
            value = quality.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                columns[column] = int(value) if column == "arrival_gaps" else float(value)
    return columns


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
        TurnMetrics.objects.create(conversation=conversation, **_turn_columns(metrics))
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


@transaction.atomic
def conversation_record_outcome(
    *,
    conversation_id: str,
    outcome: str,
    reason: str = "",
    end: bool = False,
    playback_underruns: int = 0,
    late_audio_ms: float = 0.0,
) -> bool:
    """How a socket let go of the conversation (a later resume overwrites it); `end` also
    ends it for good. False if the conversation is gone."""
    if outcome not in Conversation.Outcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    changes: dict[str, Any] = {
        "outcome": outcome,
        "outcome_reason": storable_text(reason)[:64],
        "playback_underruns": F("playback_underruns") + max(0, playback_underruns),
        "late_audio_ms": F("late_audio_ms") + max(0.0, late_audio_ms),
    }
    updated = Conversation.objects.filter(pk=conversation_id).update(**changes)
    if end:
        conversation_end(conversation_id=conversation_id)
    return updated > 0


@transaction.atomic
def feedback_record(
    *,
    conversation: Conversation,
    rating: str,
    comment: str = "",
    item_id: str = "",
    source: str,
) -> Feedback:
    """Rate a conversation (blank `item_id`) or one of its answers; rating again replaces the
    rating. The caller has checked that the rater may rate this conversation."""
    if rating not in Feedback.Rating.values:
        raise InvalidRequestError("rating is 'up' or 'down'", param="rating")
    if len(comment) > FEEDBACK_COMMENT_MAX_CHARS:
        raise InvalidRequestError(
            f"comment is over {FEEDBACK_COMMENT_MAX_CHARS} characters", param="comment"
        )
    item_id = storable_text(item_id)[:64]
    message = (
        conversation.messages.filter(item_id=item_id).order_by("position").first()
        if item_id
        else None
    )
    now = timezone.now()
    feedback, _ = Feedback.objects.update_or_create(
        conversation=conversation,
        item_id=item_id,
        defaults={
            "rating": rating,
            "comment": storable_text(comment.strip()),
            "message": message,
            "source": source,
            "updated_at": now,
        },
        create_defaults={
            "rating": rating,
            "comment": storable_text(comment.strip()),
            "message": message,
            "source": source,
            "created_at": now,
            "updated_at": now,
        },
    )
    return feedback


@transaction.atomic
def mos_record(
    *,
    conversation_id: str,
    item_id: str,
    direction: str,
    sig: float,
    bak: float,
    ovrl: float,
    audio_s: float,
) -> MosScore | None:
    """Keep one DNSMOS score (never the audio); None if the conversation is gone."""
    if not Conversation.objects.filter(pk=conversation_id).exists():
        return None
    return MosScore.objects.create(
        conversation_id=conversation_id,
        item_id=item_id[:64],
        direction=direction,
        sig=sig,
        bak=bak,
        ovrl=ovrl,
        audio_s=audio_s,
    )


@transaction.atomic
def session_refusal_count(*, reason: str) -> None:
    """Count one session refused this hour (one row per hour and reason, however many)."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    this_hour = SessionRefusal.objects.filter(hour=hour, reason=reason)
    if this_hour.update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            SessionRefusal.objects.create(hour=hour, reason=reason, count=1)
    except IntegrityError:
        # Another refusal created the hour's row meanwhile.
        this_hour.update(count=F("count") + 1)


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
    messages = [(m.role, m.text) for m in to_fold if m.role in ("user", "assistant")]
    summary = summarizer()(
        agent=conversation.agent, previous=conversation.summary, messages=messages
    )
    with transaction.atomic():
        updated = Conversation.objects.filter(
            pk=conversation.pk, summarized_through=conversation.summarized_through
        ).update(summary=summary, summarized_through=to_fold[-1].position)
    return updated == 1


@transaction.atomic
def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with its messages and turn metrics (usage records stay, unlinked)."""
    conversation.delete()
