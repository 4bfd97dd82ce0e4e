"""The vocabulary of usage records and rollups: stages, outcomes, periods, summable columns.

Apart from the models so that services, filters and admin pages share one list of each.
"""

from __future__ import annotations

from django.db import models

# The summable columns that usage records and their rollups share.
USAGE_AMOUNTS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "estimated_tokens",
    "stt_seconds",
    "tts_characters",
    "audio_seconds",
    "cost_usd",
)


class UsageStage(models.TextChoices):
    LLM = "llm", "LLM"
    STT = "stt", "Speech to text"
    TTS = "tts", "Text to speech"
    AUDIO_IN = "audio_in", "Audio in"
    AUDIO_OUT = "audio_out", "Audio out"


class UsageOutcome(models.TextChoices):
    ANSWERED = "answered", "Answered"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class RollupPeriod(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"
