"""Reads of the voice app; callers run them inside the organization's schema."""

from __future__ import annotations

from voice.agent_config import agent_config_from_settings
from voice.engine.config import AgentConfig
from voice.engine.errors import InvalidRequestError
from voice.models import Agent


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
