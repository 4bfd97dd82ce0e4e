"""Conversations and their messages; they live in each organization's own schema."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

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

    class Meta:
        ordering = ["-started_at"]

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

    class Meta:
        ordering = ["conversation", "created_at"]

    def __str__(self) -> str:
        return f"Turn {self.response_id or self.pk} of {self.conversation_id}"
