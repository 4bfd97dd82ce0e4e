"""Writes of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from voice.engine.errors import InvalidRequestError
from voice.models import Agent
from voice.selectors import agent_config

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
