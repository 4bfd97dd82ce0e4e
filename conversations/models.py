"""Conversations and their messages; they live in each organization's own schema."""

from __future__ import annotations

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.utils import timezone

# The text search configuration of message search; the index below and the queries in
# selectors.py must use the same expression, or PostgreSQL scans every message.
SEARCH_CONFIG = "english"


class Conversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    class Outcome(models.TextChoices):
        """How it ended (docs/api/usage-and-billing.md#conversation-success-rate)."""

        COMPLETED = "completed", "Completed"
        ENDED_BY_AGENT = "ended_by_agent", "Ended by the agent"
        ABANDONED = "abandoned", "Abandoned by the user"
        ENDED_BY_OPERATOR = "ended_by_operator", "Ended by an operator"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(
        "voice.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    # The realtime session that holds (or last held) it, for resume and the admin's live view.
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    summary = models.TextField(blank=True)
    # Messages up to this position are covered by `summary` and left out of the model's context.
    summarized_through = models.IntegerField(default=-1)
    # The end user's id as the client gives it; it links memory across sessions.
    end_user_id = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Written whenever a socket lets go of it (a resume overwrites it); blank while live.
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    # Why: the error code of a failure, or what ended it (idle_timeout, budget_exceeded, ...).
    outcome_reason = models.CharField(max_length=64, blank=True)
    # What the widget reported of its playback (aura.playback.position): audio that was
    # due but not there (an underrun), and how late it came, summed over the conversation.
    playback_underruns = models.PositiveIntegerField(default=0)
    late_audio_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # The stale-conversation sweep probes every organization with this one condition.
            models.Index(
                fields=["started_at"],
                condition=models.Q(status="active"),
                name="conversation_active_started",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.id} ({self.started_at:%Y-%m-%d %H:%M})"


class Message(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True)
    # The realtime protocol's id of this item, as clients saw it.
    item_id = models.CharField(max_length=64, blank=True)
    # The assistant was interrupted: `text` holds only what the user heard.
    truncated = models.BooleanField(default=False)
    # [{"id", "name", "arguments"}] on an assistant message; the id answered on a tool message.
    tool_calls = models.JSONField(default=list, blank=True)
    tool_call_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"], name="message_position_unique"
            )
        ]
        indexes = [
            GinIndex(SearchVector("text", config=SEARCH_CONFIG), name="message_text_search"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class TurnMetrics(models.Model):
    """Where the time went in one turn, as measured by the engine."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    response_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    stt_ms = models.FloatField(null=True, blank=True)
    llm_first_token_ms = models.FloatField(null=True, blank=True)
    first_clause_ms = models.FloatField(null=True, blank=True)
    tts_first_audio_ms = models.FloatField(null=True, blank=True)
    voice_to_voice_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    audio_in_s = models.FloatField(default=0)
    audio_out_s = models.FloatField(default=0)
    route = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, blank=True)
    # The stage a failed turn failed at (stt, llm, tts, tool, transport) and its error code.
    failed_stage = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    # Quality of the user's audio in this turn (voice/engine/observability/audio_quality.py);
    # no audio kept.
    input_level_dbfs = models.FloatField(null=True, blank=True)
    clipping_ratio = models.FloatField(null=True, blank=True)
    noise_floor_dbfs = models.FloatField(null=True, blank=True)
    snr_db = models.FloatField(null=True, blank=True)
    arrival_jitter_ms = models.FloatField(null=True, blank=True)
    arrival_gaps = models.PositiveIntegerField(null=True, blank=True)
    stt_confidence = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["conversation", "created_at"]

    def __str__(self) -> str:
        return f"Turn {self.response_id or self.pk} of {self.conversation_id}"


class Feedback(models.Model):
    """A thumbs up or down (and maybe a comment) on a conversation or one of its answers."""

    class Rating(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    class Source(models.TextChoices):
        REALTIME = "realtime", "Realtime session"
        API = "api", "REST API"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="feedback"
    )
    # Blank for the conversation as a whole; else the rated answer's realtime item id (its
    # message may be written after the rating arrives, hence the id and not only a key).
    item_id = models.CharField(max_length=64, blank=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"
        constraints = [
            # Rating again changes the rating: one per conversation, one per answer.
            models.UniqueConstraint(fields=["conversation", "item_id"], name="feedback_unique")
        ]

    def __str__(self) -> str:
        target = self.item_id or "conversation"
        return f"{self.rating} on {target} of {self.conversation_id}"


class MosScore(models.Model):
    """DNSMOS P.835 of one sampled stretch of audio (a user's turn or a spoken answer).

    Scored by a Celery task from audio handed over in memory; the audio itself is never kept.
    """

    class Direction(models.TextChoices):
        INPUT = "input", "User speech"
        OUTPUT = "output", "Synthesized answer"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="mos_scores"
    )
    item_id = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=6, choices=Direction.choices)
    sig = models.FloatField()
    bak = models.FloatField()
    ovrl = models.FloatField()
    audio_s = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"MOS {self.ovrl:.2f} ({self.direction}) of {self.conversation_id}"


class SessionRefusal(models.Model):
    """Realtime sessions refused at the door (no conversation began), counted per hour."""

    class Reason(models.TextChoices):
        CAP = "cap", "Session or rate cap"
        BUDGET = "budget", "Budget exhausted"
        AUTH = "auth", "Authentication or permission"
        OTHER = "other", "Other"

    hour = models.DateTimeField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["hour", "reason"], name="session_refusal_unique")
        ]

    def __str__(self) -> str:
        return f"{self.count} refused ({self.reason}) at {self.hour:%Y-%m-%d %H:00}"


class AppliedTurnRecord(models.Model):
    """A journaled record of a realtime session (voice/realtime/journal.py) already written
    here: a record the live process and a recovery both write is stored once."""

    key = models.CharField(max_length=64, primary_key=True)
    applied_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.key
