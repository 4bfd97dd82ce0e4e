"""Reads of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from aura_project.encryption import decrypt
from voice.agent_config import agent_config_from_settings
from voice.engine.config import AgentConfig, ToolSpec
from voice.engine.errors import InvalidRequestError
from voice.models import Agent, WebhookTool
from voice.webhooks import WebhookDefinition


def agent_for_session(name: str | None) -> Agent:
    """The named agent, or the organization's default (the first one if none is marked)."""
    agents = Agent.objects.all()
    agent = agents.filter(name=name).first() if name else agents.filter(is_default=True).first()
    if agent is None and not name:
        agent = agents.first()
    if agent is None:
        raise InvalidRequestError(
            f"No agent named {name!r}." if name else "This organization has no agent yet.",
            code="unknown_agent",
            param="agent",
        )
    return agent


def agent_config(agent: Agent) -> AgentConfig:
    config = _settings_config(agent)
    if agent.pk is None:
        return config  # not saved yet: it has no webhook tools
    return dataclasses.replace(config, tools=config.tools + webhook_specs(agent))


def webhook_specs(agent: Agent) -> tuple[ToolSpec, ...]:
    """The enabled webhook tools the agent may call, as the model sees them."""
    return tuple(
        ToolSpec(
            name=tool.name,
            description=tool.description,
            parameters=dict(tool.parameters),
            kind="server",
            timeout_s=tool.timeout_s,
        )
        for tool in agent.webhook_tools.filter(enabled=True)
    )


def webhook_definitions(names: Iterable[str]) -> list[WebhookDefinition]:
    """What the executor needs to call these webhook tools (signing secrets decrypted)."""
    return [
        WebhookDefinition(
            name=tool.name,
            url=tool.url,
            signing_secret=decrypt(tool.signing_secret_encrypted),
            timeout_s=tool.timeout_s,
        )
        for tool in WebhookTool.objects.filter(name__in=list(names), enabled=True)
    ]


def _settings_config(agent: Agent) -> AgentConfig:
    return agent_config_from_settings(
        instructions=agent.instructions,
        voice=agent.voice,
        language=agent.language,
        stt_routes=agent.stt_routes,
        llm_routes=agent.llm_routes,
        tts_routes=agent.tts_routes,
        turn_detection=agent.turn_detection,
        max_output_tokens=agent.max_output_tokens,
        builtin_tools=agent.builtin_tools,
    )
