"""Voice agents: what an organization's assistant is, says and runs on (tenant schema)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from voice.agent_config import public_overrides_from_json, vocabulary_from_json
from voice.engine.config import SPECULATION_MODES
from voice.engine.errors import InvalidRequestError


def default_stt_routes() -> list[dict[str, object]]:
    return [{"provider": "local", "model": "tiny.en"}]


def default_llm_routes() -> list[dict[str, object]]:
    return [{"provider": "local", "model": "gemma3-270m"}]


def default_tts_routes() -> list[dict[str, object]]:
    return [{"provider": "local", "model": "en_US-joe-medium"}]


def default_turn_detection() -> dict[str, object]:
    return {"type": "server_vad", "silence_duration_ms": 500, "prefix_padding_ms": 300}


def validate_public_overrides(value: Any) -> None:
    try:
        public_overrides_from_json(value)
    except InvalidRequestError as error:
        raise ValidationError(error.message) from error


def validate_vocabulary(value: Any) -> None:
    try:
        vocabulary_from_json(value)
    except InvalidRequestError as error:
        raise ValidationError(error.message) from error


class Agent(models.Model):
    """One assistant configuration; sessions start from it and may adjust it per session."""

    name = models.CharField(max_length=100, unique=True)
    instructions = models.TextField(default="You are a helpful, concise voice assistant.")
    voice = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=16, default="en")
    # Product and proper names the speech-to-text should spell right ("ComfyUI", "Quorvex").
    vocabulary = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_vocabulary],
        help_text='A list of terms, for example ["Quorvex", "ComfyUI"].',
    )
    # Ordered routes for the smart router: [{"provider", "model", "base_url"?, ...}, ...]
    stt_routes = models.JSONField(default=default_stt_routes)
    llm_routes = models.JSONField(default=default_llm_routes)
    tts_routes = models.JSONField(default=default_tts_routes)
    turn_detection = models.JSONField(default=default_turn_detection, null=True, blank=True)
    # Names of built-in tools the agent may call (tenant webhook tools attach separately).
    builtin_tools = models.JSONField(default=list, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    # Summaries of the end user's earlier conversations go into the prompt, for end users the
    # organization vouches for (a secret key's `?user=`, a client secret minted for a user).
    memory_enabled = models.BooleanField(default=True)
    # Session fields (voice.agent_config.PUBLIC_OVERRIDABLE) that clients with a publishable
    # key may change; by default none: such clients change only audio settings.
    public_overrides = models.JSONField(
        default=list, blank=True, validators=[validate_public_overrides]
    )
    # How eagerly a turn is transcribed and answered before it has surely ended
    # (voice/engine/pipeline/speculation.py): "auto" is eager with the local STT and thrifty
    # (one guess near the end of the silence, one answer per turn) with a remote one.
    speculation = models.CharField(
        max_length=10,
        choices=[(mode, mode) for mode in SPECULATION_MODES],
        default="auto",
    )
    is_default = models.BooleanField(default=False)
    webhook_tools: models.ManyToManyField[WebhookTool, Any] = models.ManyToManyField(
        "WebhookTool", blank=True, related_name="agents"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_agent"
            )
        ]

    def __str__(self) -> str:
        return self.name


class WebhookTool(models.Model):
    """A function the organization implements as an HTTPS endpoint; agents that list it may
    call it. Requests are signed with the tool's secret (HMAC-SHA256), stored encrypted."""

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    # JSON schema of the arguments object, as the model sees it.
    parameters = models.JSONField(default=dict)
    url = models.URLField(max_length=500)
    signing_secret_encrypted = models.TextField()
    timeout_s = models.FloatField(default=10.0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderCredential(models.Model):
    """The organization's own key for a cloud provider, for its routes to that provider that
    carry no key of their own. Stored encrypted (Fernet); shown only as a hint."""

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        GROK = "grok", "xAI (Grok)"

    provider = models.CharField(max_length=20, choices=Provider.choices, unique=True)
    api_key_encrypted = models.TextField()
    # The key's first three and last four characters, so that people can tell keys apart.
    key_hint = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} key {self.key_hint}"
