"""Writes of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction

from aura_project.encryption import encrypt
from voice.engine.errors import InvalidRequestError
from voice.engine.tools import BUILTINS
from voice.models import Agent, WebhookTool
from voice.selectors import agent_config
from voice.webhooks import check_webhook_url

AGENT_FIELDS = (
    "instructions",
    "voice",
    "language",
    "stt_routes",
    "llm_routes",
    "tts_routes",
    "turn_detection",
    "builtin_tools",
    "max_output_tokens",
    "memory_enabled",
    "audio_retention",
    "is_default",
)


def _validate(agent: Agent) -> None:
    if not agent.name or len(agent.name) > 100:
        raise InvalidRequestError("name must be 1-100 characters", param="name")
    # Building the engine's config runs every check a session would run at start.
    agent_config(agent)


@transaction.atomic
def agent_create(*, name: str, **settings: Any) -> Agent:
    unknown = set(settings) - set(AGENT_FIELDS)
    if unknown:
        raise InvalidRequestError(f"unknown agent fields: {', '.join(sorted(unknown))}")
    agent = Agent(name=name, **settings)
    _validate(agent)
    if Agent.objects.filter(name=name).exists():
        raise InvalidRequestError(f"an agent named {name!r} exists", param="name")
    if agent.is_default or not Agent.objects.exists():
        Agent.objects.filter(is_default=True).update(is_default=False)
        agent.is_default = True
    agent.save()
    return agent


TOOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@transaction.atomic
def webhook_tool_create(
    *,
    name: str,
    url: str,
    signing_secret: str,
    description: str = "",
    parameters: dict[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> WebhookTool:
    """Register a webhook tool; its secret is stored encrypted and never shown again."""
    if not TOOL_NAME.match(name or ""):
        raise InvalidRequestError(
            "name must be 1-64 letters, digits, '_' or '-', starting with a letter", param="name"
        )
    if name in BUILTINS or WebhookTool.objects.filter(name=name).exists():
        raise InvalidRequestError(f"a tool named {name!r} exists", param="name")
    check_webhook_url(url, settings.AURA_WEBHOOK_ALLOWED_HOSTS)
    schema = parameters if parameters is not None else {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidRequestError(
            "parameters must be a JSON schema of type object", param="parameters"
        )
    if not isinstance(signing_secret, str) or len(signing_secret) < 16:
        raise InvalidRequestError(
            "signing_secret must be at least 16 characters", param="signing_secret"
        )
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not 0.5 <= timeout_s <= 30
    ):
        raise InvalidRequestError("timeout_s must be from 0.5 to 30 seconds", param="timeout_s")
    return WebhookTool.objects.create(
        name=name,
        description=description,
        parameters=schema,
        url=url,
        signing_secret_encrypted=encrypt(signing_secret),
        timeout_s=float(timeout_s),
    )
