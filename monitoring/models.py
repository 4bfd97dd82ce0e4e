"""Usage metering: what each turn consumed, priced, and its hourly and daily rollups.

The rows live in each organization's own schema, next to the conversations they describe
(docs/api/usage-and-billing.md). The tables were created by the `conversations` app before
these models moved here; they keep their names (`Meta.db_table`): renaming them would buy
nothing but one more DDL statement per schema on every organization, and the index and
constraint names PostgreSQL holds are derived from the table names.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from monitoring.usage_choices import RollupPeriod, UsageOutcome, UsageStage


class UsageRecord(models.Model):
    """What one turn (or the end of a session) consumed of one stage, provider and model.

    Written with the turn it belongs to; `cost_usd` is priced when written, from the price
    table in settings at that moment (a later price change does not rewrite history).
    """

    Stage = UsageStage
    Outcome = UsageOutcome

    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage",
    )
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Blank for what a session consumed after its last turn (recorded when it ends).
    response_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    stage = models.CharField(max_length=10, choices=Stage.choices)
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=150, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ANSWERED)
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # Of the tokens above, those estimated from text (a stream cut before its usage report).
    estimated_tokens = models.PositiveIntegerField(default=0)
    stt_seconds = models.FloatField(default=0)
    tts_characters = models.PositiveIntegerField(default=0)
    audio_seconds = models.FloatField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        db_table = "conversations_usagerecord"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.stage} {self.provider}/{self.model} ${self.cost_usd}"


class UsageRollup(models.Model):
    """Usage summed over an hour or a day, per stage, provider, model and outcome."""

    Period = RollupPeriod

    period = models.CharField(max_length=4, choices=Period.choices)
    period_start = models.DateTimeField()
    stage = models.CharField(max_length=10, choices=UsageRecord.Stage.choices)
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=150, blank=True)
    outcome = models.CharField(max_length=10, choices=UsageRecord.Outcome.choices)
    requests = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    estimated_tokens = models.PositiveBigIntegerField(default=0)
    stt_seconds = models.FloatField(default=0)
    tts_characters = models.PositiveBigIntegerField(default=0)
    audio_seconds = models.FloatField(default=0)
    cost_usd = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "conversations_usagerollup"
        ordering = ["-period_start", "stage", "provider", "model"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "period_start", "stage", "provider", "model", "outcome"],
                name="usage_rollup_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.period_start:%Y-%m-%d %H:00} {self.stage} {self.provider}"


class ActivityRollup(models.Model):
    """One hour or day of an organization at a glance: what the dashboard charts."""

    period = models.CharField(max_length=4, choices=UsageRollup.Period.choices)
    period_start = models.DateTimeField()
    conversations = models.PositiveIntegerField(default=0)
    turns = models.PositiveIntegerField(default=0)
    failed_turns = models.PositiveIntegerField(default=0)
    audio_in_seconds = models.FloatField(default=0)
    audio_out_seconds = models.FloatField(default=0)
    voice_to_voice_p50_ms = models.FloatField(null=True, blank=True)
    voice_to_voice_p95_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    # Outcomes of the conversations started in the period, and the sessions refused in it.
    conversations_ended = models.PositiveIntegerField(default=0)
    conversations_succeeded = models.PositiveIntegerField(default=0)
    conversations_failed = models.PositiveIntegerField(default=0)
    conversations_abandoned = models.PositiveIntegerField(default=0)
    sessions_refused = models.PositiveIntegerField(default=0)
    # Ratings given in the period (conversations and answers alike).
    feedback_up = models.PositiveIntegerField(default=0)
    feedback_down = models.PositiveIntegerField(default=0)
    # Audio quality of the period's turns (averages over the turns that measured it).
    input_level_dbfs_avg = models.FloatField(null=True, blank=True)
    clipping_ratio_avg = models.FloatField(null=True, blank=True)
    snr_db_avg = models.FloatField(null=True, blank=True)
    input_mos_ovrl_avg = models.FloatField(null=True, blank=True)
    output_mos_ovrl_avg = models.FloatField(null=True, blank=True)
    playback_underruns = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "conversations_activityrollup"
        ordering = ["-period_start"]
        # Its admin page is the organization's dashboard.
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
        constraints = [
            models.UniqueConstraint(
                fields=["period", "period_start"], name="activity_rollup_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.period_start:%Y-%m-%d %H:00}"

    @property
    def minutes(self) -> float:
        return self.audio_in_seconds / 60

    @property
    def error_rate(self) -> float:
        return self.failed_turns / self.turns if self.turns else 0.0

    @property
    def success_rate(self) -> float | None:
        """Conversations that succeeded, of those that ended or were refused (None: none)."""
        attempts = self.conversations_ended + self.sessions_refused
        return self.conversations_succeeded / attempts if attempts else None

    @property
    def satisfaction(self) -> float | None:
        """The share of ratings that were thumbs up (None: nobody rated)."""
        rated = self.feedback_up + self.feedback_down
        return self.feedback_up / rated if rated else None
