# The usage models move from `conversations` to `monitoring`, in the migration state only.
#
# Their tables stay where they are, with the names `conversations` gave them (`db_table`):
# nothing is copied, rebuilt or renamed in any organization's schema, so the move costs each
# schema a few rows of `django_migrations` and nothing else, whatever its data. Renaming the
# tables (`AlterModelTable`) would be cheap too (one catalog update per table and schema), but
# would buy only a name, take an exclusive lock on tables that live sessions write to, and
# leave their index and sequence names still spelling `conversations_...`.
#
# This migration creates the models here (state only) after `conversations` has them at their
# last shape; `conversations.0007_usage_models_to_monitoring` then deletes them there (state
# only), so a fresh database and an existing one reach the same state in the same order.
#
# The one write: the three content types move with their models (their `app_label`, three rows
# of `django_content_type` per schema), so the permissions an organization granted on the usage
# pages, and its admin's history of them, keep pointing at the same rows, not at stale ones.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED_MODELS = ("usagerecord", "usagerollup", "activityrollup")


def move_content_types(from_app: str, to_app: str):
    def move(apps, schema_editor):
        content_types = apps.get_model("contenttypes", "ContentType").objects.using(
            schema_editor.connection.alias
        )
        # A model that somehow has a content type in both apps keeps the target's.
        present = content_types.filter(app_label=to_app).values_list("model", flat=True)
        content_types.filter(app_label=from_app, model__in=MOVED_MODELS).exclude(
            model__in=list(present)
        ).update(app_label=to_app)

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("conversations", "0006_applied_turn_records"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ActivityRollup",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "period",
                            models.CharField(
                                choices=[("hour", "Hour"), ("day", "Day")], max_length=4
                            ),
                        ),
                        ("period_start", models.DateTimeField()),
                        ("conversations", models.PositiveIntegerField(default=0)),
                        ("turns", models.PositiveIntegerField(default=0)),
                        ("failed_turns", models.PositiveIntegerField(default=0)),
                        ("audio_in_seconds", models.FloatField(default=0)),
                        ("audio_out_seconds", models.FloatField(default=0)),
                        ("voice_to_voice_p50_ms", models.FloatField(blank=True, null=True)),
                        ("voice_to_voice_p95_ms", models.FloatField(blank=True, null=True)),
                        ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                        ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                        (
                            "cost_usd",
                            models.DecimalField(decimal_places=6, default=0, max_digits=16),
                        ),
                        ("conversations_ended", models.PositiveIntegerField(default=0)),
                        ("conversations_succeeded", models.PositiveIntegerField(default=0)),
                        ("conversations_failed", models.PositiveIntegerField(default=0)),
                        ("conversations_abandoned", models.PositiveIntegerField(default=0)),
                        ("sessions_refused", models.PositiveIntegerField(default=0)),
                        ("feedback_up", models.PositiveIntegerField(default=0)),
                        ("feedback_down", models.PositiveIntegerField(default=0)),
                        ("input_level_dbfs_avg", models.FloatField(blank=True, null=True)),
                        ("clipping_ratio_avg", models.FloatField(blank=True, null=True)),
                        ("snr_db_avg", models.FloatField(blank=True, null=True)),
                        ("input_mos_ovrl_avg", models.FloatField(blank=True, null=True)),
                        ("output_mos_ovrl_avg", models.FloatField(blank=True, null=True)),
                        ("playback_underruns", models.PositiveIntegerField(default=0)),
                        ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "verbose_name": "dashboard",
                        "verbose_name_plural": "dashboard",
                        "db_table": "conversations_activityrollup",
                        "ordering": ["-period_start"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("period", "period_start"), name="activity_rollup_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="UsageRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("session_id", models.CharField(blank=True, db_index=True, max_length=64)),
                        ("response_id", models.CharField(blank=True, max_length=64)),
                        (
                            "created_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        (
                            "stage",
                            models.CharField(
                                choices=[
                                    ("llm", "LLM"),
                                    ("stt", "Speech to text"),
                                    ("tts", "Text to speech"),
                                    ("audio_in", "Audio in"),
                                    ("audio_out", "Audio out"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("provider", models.CharField(max_length=50)),
                        ("model", models.CharField(blank=True, max_length=150)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("answered", "Answered"),
                                    ("cancelled", "Cancelled"),
                                    ("failed", "Failed"),
                                ],
                                default="answered",
                                max_length=10,
                            ),
                        ),
                        ("requests", models.PositiveIntegerField(default=0)),
                        ("prompt_tokens", models.PositiveIntegerField(default=0)),
                        ("completion_tokens", models.PositiveIntegerField(default=0)),
                        ("estimated_tokens", models.PositiveIntegerField(default=0)),
                        ("stt_seconds", models.FloatField(default=0)),
                        ("tts_characters", models.PositiveIntegerField(default=0)),
                        ("audio_seconds", models.FloatField(default=0)),
                        (
                            "cost_usd",
                            models.DecimalField(decimal_places=6, default=0, max_digits=14),
                        ),
                        (
                            "conversation",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="usage",
                                to="conversations.conversation",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "conversations_usagerecord",
                        "ordering": ["-created_at"],
                    },
                ),
                migrations.CreateModel(
                    name="UsageRollup",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "period",
                            models.CharField(
                                choices=[("hour", "Hour"), ("day", "Day")], max_length=4
                            ),
                        ),
                        ("period_start", models.DateTimeField()),
                        (
                            "stage",
                            models.CharField(
                                choices=[
                                    ("llm", "LLM"),
                                    ("stt", "Speech to text"),
                                    ("tts", "Text to speech"),
                                    ("audio_in", "Audio in"),
                                    ("audio_out", "Audio out"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("provider", models.CharField(max_length=50)),
                        ("model", models.CharField(blank=True, max_length=150)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("answered", "Answered"),
                                    ("cancelled", "Cancelled"),
                                    ("failed", "Failed"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("requests", models.PositiveBigIntegerField(default=0)),
                        ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                        ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                        ("estimated_tokens", models.PositiveBigIntegerField(default=0)),
                        ("stt_seconds", models.FloatField(default=0)),
                        ("tts_characters", models.PositiveBigIntegerField(default=0)),
                        ("audio_seconds", models.FloatField(default=0)),
                        (
                            "cost_usd",
                            models.DecimalField(decimal_places=6, default=0, max_digits=16),
                        ),
                        ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "conversations_usagerollup",
                        "ordering": ["-period_start", "stage", "provider", "model"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=(
                                    "period",
                                    "period_start",
                                    "stage",
                                    "provider",
                                    "model",
                                    "outcome",
                                ),
                                name="usage_rollup_unique",
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(
            move_content_types("conversations", "monitoring"),
            move_content_types("monitoring", "conversations"),
        ),
    ]
